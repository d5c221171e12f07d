"""From a validated input event to the canonical touchpoint: identities normalized (junk
dropped), defaults from the catalogue, Segment-style clock-skew correction, server-owned
fields stamped.

The result is an `Accepted`: the fields of shared.events.Touchpoint as plain values, every
rule of the canonical model already checked here. The publisher serializes it straight to
the wire form (adapters/records.py) without building the pydantic model, which would
validate every field a second time; `Accepted.touchpoint()` builds that model, and a
property test holds the two the same (tests/unit/ingest/test_ingest_records.py).
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from services.ingest.domain.nesting import MAX_DEPTH, deeper_than
from services.ingest.domain.rejections import Code, Rejection
from services.ingest.schemas import EventIn, IdentitiesIn
from shared.catalogue import COMMERCE_TYPES, Channel, Initiator, Phase, defaults_for
from shared.events import CostToServe, Feedback, Identities, Order, Touchpoint
from shared.identities import STRENGTH, IdentityKind, normalize

SHORT_TEXT_MAX = 200  # shared.events.ShortText
_SCALAR_KINDS = tuple(
    (kind, kind.value)
    for kind in (IdentityKind.CUSTOMER_ID, IdentityKind.ANONYMOUS_ID, IdentityKind.EMAIL, IdentityKind.PHONE)
)
_EXTERNAL = IdentityKind.EXTERNAL.value
_STRONGEST_FIRST = tuple(kind.value for kind in STRENGTH)

IdentityDoc = Mapping[str, Any]  # the JSON object of shared.events.Identities: set kinds only, in schema order


@dataclass(slots=True)
class Accepted:
    """A touchpoint ready to publish: the fields of shared.events.Touchpoint, normalized and checked.

    Not frozen only because a frozen dataclass pays for every field on construction; nothing
    changes one once built."""

    id: str
    source: str
    type: str
    initiator: Initiator
    phase: Phase
    channel: Channel
    identities: IdentityDoc
    occurred_at: datetime
    received_at: datetime
    sent_at: datetime | None
    order: Order | None
    cost: CostToServe | None
    feedback: Feedback | None
    referral_of: IdentityDoc | None
    traits: dict[str, Any]
    traits_set_once: dict[str, Any]
    consent: dict[str, bool]
    properties: dict[str, Any]
    context: dict[str, Any]

    def identity_pairs(self) -> list[tuple[str, str]]:
        """(kind, value) pairs as Identities.pairs(): strongest first, external ids by name."""
        ids = self.identities
        out: list[tuple[str, str]] = []
        for name in _STRONGEST_FIRST:
            value = ids.get(name)
            if value is None:
                continue
            if name == _EXTERNAL:
                out.extend((f"external:{kind}", v) for kind, v in sorted(value.items()))
            else:
                out.append((name, value))
        return out

    def partition_key(self) -> str:
        """The strongest identity as `<kind>:<value>`, as Identities.partition_key()."""
        ids = self.identities
        for name in _STRONGEST_FIRST:
            value = ids.get(name)
            if value is not None:
                if name == _EXTERNAL:
                    first = min(value)
                    return f"external:{first}:{value[first]}"
                return f"{name}:{value}"
        return ""

    def touchpoint(self) -> Touchpoint:
        """The canonical model of this touchpoint (validated)."""
        return Touchpoint(
            id=self.id,
            source=self.source,
            type=self.type,
            initiator=self.initiator,
            phase=self.phase,
            channel=self.channel,
            identities=Identities(**self.identities),
            occurred_at=self.occurred_at,
            received_at=self.received_at,
            sent_at=self.sent_at,
            order=self.order,
            cost=self.cost,
            feedback=self.feedback,
            referral_of=Identities(**self.referral_of) if self.referral_of is not None else None,
            traits=self.traits,
            traits_set_once=self.traits_set_once,
            consent=self.consent,
            properties=self.properties,
            context=self.context,
        )


# Normalized identities by the values as sent (and where they stand), for events without external
# ids: a visitor or customer sends many events with the same identities. The documents are
# shared between events and never changed. Bounded; emptied when full.
_NORMALIZED: dict[tuple[str, str | None, str | None, str | None, str | None], IdentityDoc | Rejection | None] = {}
_NORMALIZED_MAX = 100_000


def normalized_identities(given: IdentitiesIn, path: str) -> IdentityDoc | Rejection | None:
    """The normalized identities as their JSON object, or None when not one real value is left."""
    if given.external:
        return _normalize_identities(given, path)
    key = (path, given.customer_id, given.anonymous_id, given.email, given.phone)
    try:
        return _NORMALIZED[key]
    except KeyError:
        if len(_NORMALIZED) >= _NORMALIZED_MAX:
            _NORMALIZED.clear()
        found = _NORMALIZED[key] = _normalize_identities(given, path)
        return found


def _normalize_identities(given: IdentitiesIn, path: str) -> IdentityDoc | Rejection | None:
    values: dict[str, Any] = {}
    for kind, name in _SCALAR_KINDS:
        raw = getattr(given, name)
        if raw is not None and (value := normalize(kind, raw)) is not None:
            if len(value) > SHORT_TEXT_MAX:  # lower-casing can lengthen some letters
                return Rejection(
                    Code.INVALID_FIELD,
                    f"{path}.{name} is longer than {SHORT_TEXT_MAX} characters once normalized.",
                    f"{path}.{name}",
                )
            values[name] = value
    if given.external:
        external: dict[str, str] = {}
        for name, raw in given.external.items():
            if (value := normalize(IdentityKind.EXTERNAL, raw)) is not None:
                external[name] = value
        if external:
            values[_EXTERNAL] = external
    return values or None


_NO_OFFSET = timedelta(0)


def as_utc(moment: datetime) -> datetime:
    """`moment` in UTC (naive taken as UTC). A time at offset zero is returned as it is, whatever
    its tzinfo object (pydantic parses `Z` into its own): the same instant, serialized the same."""
    tz = moment.tzinfo
    if tz is None:
        return moment.replace(tzinfo=UTC)
    return moment if tz is UTC or tz.utcoffset(moment) == _NO_OFFSET else moment.astimezone(UTC)


def event_time(occurred_at: datetime | None, sent_at: datetime | None, received_at: datetime) -> datetime:
    """occurred_at corrected by the client's clock skew (received_at - sent_at), as Segment does."""
    if occurred_at is None:
        return received_at
    occurred = as_utc(occurred_at)
    if sent_at is None:
        return occurred
    return occurred + (received_at - as_utc(sent_at))


def _free_form_refusal(event: EventIn) -> Rejection | None:
    for name, value in (
        ("traits", event.traits),
        ("traits_set_once", event.traits_set_once),
        ("properties", event.properties),
        ("context", event.context),
    ):
        if value and deeper_than(value, MAX_DEPTH):
            return Rejection(Code.INVALID_FIELD, f"{name} nests deeper than {MAX_DEPTH} levels.", name)
    return None


def build_touchpoint(
    event: EventIn,
    *,
    source: str,
    received_at: datetime,
    new_id: Callable[[], str],
    max_properties_bytes: int,
    depth_bound: int | None = None,
    size_bound: int | None = None,
) -> Accepted | Rejection:
    """The canonical touchpoint of `event`, or why there is none.

    What the caller measured of the event's JSON spares work here: `depth_bound` bounds how deep
    any container of it nests (the count of `{` and `[` in its serialized form does), and the
    free-form fields are walked for their depth only when it exceeds MAX_DEPTH; `size_bound`
    bounds its serialized size, and properties (a part of it) are measured only when it
    exceeds `max_properties_bytes`."""
    identities = normalized_identities(event.identities, "identities")
    if isinstance(identities, Rejection):
        return identities
    if identities is None:
        return Rejection(
            Code.MISSING_IDENTITY,
            "At least one identity (customer_id, anonymous_id, email, phone or an external id) with a real value "
            "is required; placeholders such as 'null' or 'undefined' do not count.",
            "identities",
        )
    if event.order is None and event.type in COMMERCE_TYPES:
        return Rejection(
            Code.MISSING_ORDER, f"A {event.type} event needs an order (order_id, revenue, currency).", "order"
        )
    referral_of: IdentityDoc | None = None
    if event.referral_of is not None:
        referred = normalized_identities(event.referral_of, "referral_of")
        if isinstance(referred, Rejection):
            return referred
        if referred is None:
            return Rejection(Code.INVALID_FIELD, "referral_of needs at least one real identity.", "referral_of")
        referral_of = referred
    if event.properties and (size_bound is None or size_bound > max_properties_bytes):
        try:
            size = len(orjson.dumps(event.properties))
        except TypeError:
            return Rejection(Code.INVALID_FIELD, "properties must hold JSON values only.", "properties")
        if size > max_properties_bytes:
            return Rejection(
                Code.EVENT_TOO_LARGE,
                f"properties is {size} bytes serialized; the limit is {max_properties_bytes}.",
                "properties",
            )
    if depth_bound is None or depth_bound > MAX_DEPTH:
        refusal = _free_form_refusal(event)
        if refusal is not None:
            return refusal
    phase, initiator, channel = defaults_for(event.type)
    sent_at = event.sent_at
    return Accepted(
        id=event.id or new_id(),
        source=source,
        type=event.type,
        initiator=event.initiator or initiator,
        phase=event.phase or phase,
        channel=event.channel or channel,
        identities=identities,
        occurred_at=event_time(event.occurred_at, sent_at, received_at),
        received_at=received_at,
        sent_at=as_utc(sent_at) if sent_at is not None else None,
        order=event.order,
        cost=event.cost,
        feedback=event.feedback,
        referral_of=referral_of,
        traits=event.traits,
        traits_set_once=event.traits_set_once,
        consent=event.consent,
        properties=event.properties,
        context=event.context,
    )
