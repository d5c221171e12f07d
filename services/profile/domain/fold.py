"""`apply(profile, event)` and `merge(a, b)`: the pure, order-independent profile fold.

Both go through a `ProfileBuilder`, a private mutable working copy, so that folding a batch
copies each profile once instead of once per event; `freeze` hands the copy over as the new
frozen value, so nothing is copied twice.
"""

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from services.profile.domain.identity import IdentityPair, customer_id_of, usable_pairs
from services.profile.domain.model import ZERO, Completion, OrderEntry, Profile, Stamp, Stamped
from shared.events import Touchpoint


class CustomerIdClash(ValueError):
    """Two different customer ids would end up on one profile; the identity rules forbid it."""


_NO_OFFSET = timedelta(0)


def utc(value: datetime) -> datetime:
    """`value` as an aware UTC time (a naive one is taken as UTC). A time already at offset zero
    is returned as it is, whatever its tzinfo object (JSON parsing gives its own): it is the
    same instant, compares, hashes and serializes the same, and this runs several times per
    event."""
    tz = value.tzinfo
    if tz is UTC:
        return value
    if tz is None:
        return value.replace(tzinfo=UTC)
    return value if tz.utcoffset(value) == _NO_OFFSET else value.astimezone(UTC)


def _later(a: Stamp | None, b: Stamp | None) -> Stamp | None:
    return b if a is None or (b is not None and b > a) else a


def _earlier(a: Stamp | None, b: Stamp | None) -> Stamp | None:
    return b if a is None or (b is not None and b < a) else a


def _put_latest(registers: dict[str, Stamped], key: str, value: Stamped) -> None:
    current = registers.get(key)
    if current is None or value.stamp > current.stamp:
        registers[key] = value


def _put_earliest(registers: dict[str, Stamped], key: str, value: Stamped) -> None:
    current = registers.get(key)
    if current is None or value.stamp < current.stamp:
        registers[key] = value


def _add(counts: dict[str, int], key: str, n: int = 1) -> None:
    counts[key] = counts.get(key, 0) + n


def combine_entries(a: OrderEntry, b: OrderEntry) -> OrderEntry:
    completion = a.completion
    if b.completion is not None and (completion is None or b.completion.stamp < completion.stamp):
        completion = b.completion
    return OrderEntry(
        completion=completion,
        refunded=a.refunded + b.refunded,
        refunds=a.refunds + b.refunds,
        cancelled=_earlier(a.cancelled, b.cancelled),
    )


def _minutes(value: float | None) -> Decimal:
    return ZERO if value is None else Decimal(repr(value))


class ProfileBuilder:
    """A mutable copy of a profile: fold events and other profiles into it, then `freeze`."""

    def __init__(self, profile: Profile) -> None:
        self.customer_id = profile.customer_id
        self.first_seen = profile.first_seen
        self.last_seen = profile.last_seen
        self.traits = dict(profile.traits)
        self.traits_once = dict(profile.traits_once)
        self.consent = dict(profile.consent)
        self.events = profile.events
        self.by_phase = dict(profile.by_phase)
        self.by_channel = dict(profile.by_channel)
        self.by_initiator = dict(profile.by_initiator)
        self.by_type = dict(profile.by_type)
        self.orders = dict(profile.orders)
        self.cost = profile.cost
        self.agent_minutes = profile.agent_minutes
        self.cost_events = profile.cost_events
        self.nps_scores = dict(profile.nps_scores)
        self.nps_last = profile.nps_last
        self.ratings = dict(profile.ratings)
        self.reviews = profile.reviews
        self.referrals = profile.referrals
        self.subscription_started = profile.subscription_started
        self.subscription_cancelled = profile.subscription_cancelled

    def freeze(self) -> Profile:
        """The folded profile. Hands its mappings over instead of copying them: the builder is
        spent afterwards and must not be used again."""
        return Profile(
            customer_id=self.customer_id,
            first_seen=self.first_seen,
            last_seen=self.last_seen,
            traits=self.traits,
            traits_once=self.traits_once,
            consent=self.consent,
            events=self.events,
            by_phase=self.by_phase,
            by_channel=self.by_channel,
            by_initiator=self.by_initiator,
            by_type=self.by_type,
            orders=self.orders,
            cost=self.cost,
            agent_minutes=self.agent_minutes,
            cost_events=self.cost_events,
            nps_scores=self.nps_scores,
            nps_last=self.nps_last,
            ratings=self.ratings,
            reviews=self.reviews,
            referrals=self.referrals,
            subscription_started=self.subscription_started,
            subscription_cancelled=self.subscription_cancelled,
        )

    @property
    def segment(self) -> str | None:
        stamped = self.traits.get("segment") or self.traits_once.get("segment")
        return None if stamped is None or stamped.value is None else str(stamped.value)

    def claim_customer_id(self, customer_id: str | None) -> None:
        if customer_id is None:
            return
        if self.customer_id is not None and self.customer_id != customer_id:
            raise CustomerIdClash("two different customer ids cannot share a profile")
        self.customer_id = customer_id

    def apply(self, event: Touchpoint, pairs: list[IdentityPair] | None = None) -> None:
        """Fold one event in; `pairs` are its usable identity pairs when the caller has them already."""
        at = utc(event.occurred_at)
        stamp = Stamp(at, event.dedup_key)
        self.claim_customer_id(customer_id_of(usable_pairs(event.identities) if pairs is None else pairs))
        self.first_seen = at if self.first_seen is None or at < self.first_seen else self.first_seen
        self.last_seen = at if self.last_seen is None or at > self.last_seen else self.last_seen
        for key, value in event.traits.items():
            _put_latest(self.traits, key, Stamped(value, stamp))
        for key, value in event.traits_set_once.items():
            _put_earliest(self.traits_once, key, Stamped(value, stamp))
        for key, flag in event.consent.items():
            _put_latest(self.consent, key, Stamped(flag, stamp))
        self.events += 1
        # `_value_`, the member's value as a plain attribute: `.value` goes through a descriptor
        _add(self.by_phase, event.phase._value_)
        _add(self.by_channel, event.channel._value_)
        _add(self.by_initiator, event.initiator._value_)
        _add(self.by_type, event.type)
        self._apply_order(event, stamp)
        if event.cost is not None:
            self.cost += event.cost.amount
            self.agent_minutes += _minutes(event.cost.agent_minutes)
            self.cost_events += 1
        self._apply_feedback(event, stamp)
        if event.type == "referral_made":
            self.referrals += 1
        elif event.type == "subscription_started":
            self.subscription_started = _later(self.subscription_started, stamp)
        elif event.type == "subscription_cancelled":
            self.subscription_cancelled = _later(self.subscription_cancelled, stamp)

    def _apply_order(self, event: Touchpoint, stamp: Stamp) -> None:
        order = event.order
        if order is None or event.type not in ("order_completed", "order_refunded", "order_cancelled"):
            return
        if event.type == "order_completed":
            change = OrderEntry(
                completion=Completion(
                    stamp=stamp,
                    revenue=order.revenue,
                    currency=order.currency,
                    channel=event.channel._value_,
                    categories=tuple(sorted({i.category for i in order.items if i.category})),
                    products=tuple(sorted({p for i in order.items if (p := i.product_id or i.sku)})),
                )
            )
        elif event.type == "order_refunded":
            change = OrderEntry(refunded=order.revenue, refunds=1)
        else:
            change = OrderEntry(cancelled=stamp)
        current = self.orders.get(order.order_id)
        self.orders[order.order_id] = change if current is None else combine_entries(current, change)

    def _apply_feedback(self, event: Touchpoint, stamp: Stamp) -> None:
        if event.type == "review_submitted":
            self.reviews += 1
        feedback = event.feedback
        if feedback is None:
            return
        if feedback.nps is not None:
            _add(self.nps_scores, str(feedback.nps))
            if self.nps_last is None or stamp > self.nps_last.stamp:
                self.nps_last = Stamped(feedback.nps, stamp)
        if feedback.rating is not None:
            _add(self.ratings, str(feedback.rating))

    def absorb(self, other: Profile) -> None:
        self.claim_customer_id(other.customer_id)
        if other.first_seen is not None and (self.first_seen is None or other.first_seen < self.first_seen):
            self.first_seen = other.first_seen
        if other.last_seen is not None and (self.last_seen is None or other.last_seen > self.last_seen):
            self.last_seen = other.last_seen
        for key, stamped in other.traits.items():
            _put_latest(self.traits, key, stamped)
        for key, stamped in other.traits_once.items():
            _put_earliest(self.traits_once, key, stamped)
        for key, stamped in other.consent.items():
            _put_latest(self.consent, key, stamped)
        self.events += other.events
        for mine, theirs in (
            (self.by_phase, other.by_phase),
            (self.by_channel, other.by_channel),
            (self.by_initiator, other.by_initiator),
            (self.by_type, other.by_type),
            (self.nps_scores, other.nps_scores),
            (self.ratings, other.ratings),
        ):
            _add_all(mine, theirs)
        for order_id, entry in other.orders.items():
            current = self.orders.get(order_id)
            self.orders[order_id] = entry if current is None else combine_entries(current, entry)
        self.cost += other.cost
        self.agent_minutes += other.agent_minutes
        self.cost_events += other.cost_events
        if other.nps_last is not None and (self.nps_last is None or other.nps_last.stamp > self.nps_last.stamp):
            self.nps_last = other.nps_last
        self.reviews += other.reviews
        self.referrals += other.referrals
        self.subscription_started = _later(self.subscription_started, other.subscription_started)
        self.subscription_cancelled = _later(self.subscription_cancelled, other.subscription_cancelled)


def _add_all(mine: dict[str, int], theirs: Mapping[str, int]) -> None:
    for key, n in theirs.items():
        _add(mine, key, n)


def apply(profile: Profile, event: Touchpoint) -> Profile:
    builder = ProfileBuilder(profile)
    builder.apply(event)
    return builder.freeze()


def merge(a: Profile, b: Profile) -> Profile:
    builder = ProfileBuilder(a)
    builder.absorb(b)
    return builder.freeze()


def fold(events: Iterable[Touchpoint], profile: Profile | None = None) -> Profile:
    builder = ProfileBuilder(profile or Profile())
    for event in events:
        builder.apply(event)
    return builder.freeze()

