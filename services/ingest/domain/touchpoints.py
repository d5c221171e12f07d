"""From a validated input event to the canonical Touchpoint: identities normalized (junk
dropped), defaults from the catalogue, Segment-style clock-skew correction, server-owned
fields stamped.

The canonical models are built validated. It is cheap: the nested values are already
model instances (validated once, with the input schema) and pass through as they are;
`model_construct` measured slower than validating here (pydantic 2.13).
"""

from collections.abc import Callable
from datetime import UTC, datetime

import orjson

from services.ingest.domain.nesting import FREE_FORM_FIELDS, MAX_DEPTH, deeper_than
from services.ingest.domain.rejections import Code, Rejection
from services.ingest.schemas import EventIn, IdentitiesIn
from shared.catalogue import COMMERCE_TYPES, defaults_for
from shared.events import Identities, Touchpoint
from shared.identities import IdentityKind, normalize

SHORT_TEXT_MAX = 200  # shared.events.ShortText
_SCALAR_KINDS = tuple(
    (kind, kind.value)
    for kind in (IdentityKind.CUSTOMER_ID, IdentityKind.ANONYMOUS_ID, IdentityKind.EMAIL, IdentityKind.PHONE)
)


def normalized_identities(given: IdentitiesIn, path: str) -> Identities | Rejection | None:
    """The normalized identities, or None when not one real value is left."""
    values: dict[str, str] = {}
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
    external: dict[str, str] = {}
    for name, raw in given.external.items():
        if (value := normalize(IdentityKind.EXTERNAL, raw)) is not None:
            external[name] = value
    if not values and not external:
        return None
    return Identities(**values, external=external)


def as_utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def event_time(occurred_at: datetime | None, sent_at: datetime | None, received_at: datetime) -> datetime:
    """occurred_at corrected by the client's clock skew (received_at - sent_at), as Segment does."""
    if occurred_at is None:
        return received_at
    occurred = as_utc(occurred_at)
    if sent_at is None:
        return occurred
    return occurred + (received_at - as_utc(sent_at))


def build_touchpoint(
    event: EventIn, *, source: str, received_at: datetime, new_id: Callable[[], str], max_properties_bytes: int
) -> Touchpoint | Rejection:
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
    if event.type in COMMERCE_TYPES and event.order is None:
        return Rejection(
            Code.MISSING_ORDER, f"A {event.type} event needs an order (order_id, revenue, currency).", "order"
        )
    referral_of: Identities | None = None
    if event.referral_of is not None:
        referred = normalized_identities(event.referral_of, "referral_of")
        if isinstance(referred, Rejection):
            return referred
        if referred is None:
            return Rejection(Code.INVALID_FIELD, "referral_of needs at least one real identity.", "referral_of")
        referral_of = referred
    if event.properties:
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
    for name in FREE_FORM_FIELDS:
        if deeper_than(getattr(event, name), MAX_DEPTH):
            return Rejection(Code.INVALID_FIELD, f"{name} nests deeper than {MAX_DEPTH} levels.", name)
    phase, initiator, channel = defaults_for(event.type)
    sent_at = event.sent_at
    return Touchpoint(
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
