"""Customer facts (customers.v1) that one folded event or one merge gives rise to.

Facts describe state changes, so they are derived from the order ledger entry before and
after the event, not from the event alone. Each entry implies three sums (`Implied`), the
same ones the profile shows (domain/orders.py):

- purchased: the revenue of its completion (cancelled or not);
- cancelled: that revenue again once the order is cancelled (a cancelled order is void);
- refunded: its refunds while it is not cancelled (refunds of a void order are not
  subtracted twice).

purchased - refunded - cancelled is what the order contributes to net revenue. An event
emits the change it makes to those sums, so the facts of an order add up to the sums of
its final entry whatever order its completion, refunds and cancellation arrived in:

- PURCHASE when the order's first completion arrives (cancelled or not), at its time;
- ORDER_CANCELLED when the order becomes completed and cancelled, by whichever of the two
  arrives last, with the order's revenue, dated at the cancellation;
- REFUND for a refund of an order that is not cancelled; a cancellation arriving after
  refunds gives them back with a negative REFUND, and a refund of a cancelled order
  emits nothing;
- COST for a cost to serve, CANCELLATION for `subscription_cancelled`;
- ATTRIBUTES when the segment or the acquisition channel changed;
- MERGED when a profile was merged into another.

Two records of one order can meet: an earlier completion of an order with another revenue,
or an order whose events were split across two profiles that are merged later (a duplicate
completion, a cancellation on one side and the purchase on the other). The revenue counted
twice or not at all is then corrected by a REFUND whose fact id ends in
`:refund_adjustment`; its amount may be negative (revenue given back). The cancelled and
refunded sums of a merge are corrected the same way as an event's (ORDER_CANCELLED /
REFUND of the change).

Fact ids are stable: `<event key>:<kind>`, `merge:<merged>:<survivor>`, `erase:<profile>`.
"""

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from uuid import UUID

from services.profile.domain.fold import utc
from services.profile.domain.model import ZERO, OrderEntry
from shared.events import Touchpoint
from shared.facts import CustomerFact, FactKind

Attributes = tuple[str | None, str | None]  # (segment, acquisition channel)

_MAX_ID = 300
ADJUSTMENT = "refund_adjustment"


@dataclass(frozen=True, slots=True)
class Implied:
    """What an order ledger entry adds to the purchase, cancelled and refunded sums."""

    purchased: Decimal = ZERO
    cancelled: Decimal = ZERO
    refunded: Decimal = ZERO

    def __add__(self, other: "Implied") -> "Implied":
        return Implied(
            self.purchased + other.purchased, self.cancelled + other.cancelled, self.refunded + other.refunded
        )


def implied(entry: OrderEntry | None) -> Implied:
    if entry is None:
        return Implied()
    revenue = entry.completion.revenue if entry.completion is not None else ZERO
    if entry.cancelled is not None:
        return Implied(purchased=revenue, cancelled=revenue)
    return Implied(purchased=revenue, refunded=entry.refunded)


@dataclass(frozen=True, slots=True)
class Correction:
    """The change a merge makes to one order's sums, beyond what its two parts had emitted."""

    overcounted: Decimal  # purchased revenue counted twice (negative: not at all)
    cancelled: Decimal
    refunded: Decimal
    currency: str | None
    cancelled_at: datetime | None


def merge_correction(parts: Implied, combined: OrderEntry) -> Correction | None:
    whole = implied(combined)
    correction = Correction(
        overcounted=parts.purchased - whole.purchased,
        cancelled=whole.cancelled - parts.cancelled,
        refunded=whole.refunded - parts.refunded,
        currency=combined.completion.currency if combined.completion is not None else None,
        cancelled_at=combined.cancelled.at if combined.cancelled is not None else None,
    )
    if not (correction.overcounted or correction.cancelled or correction.refunded):
        return None
    return correction


def fact_id(base: str, kind: FactKind | str) -> str:
    candidate = base + ":" + str.__str__(kind)
    if len(candidate) <= _MAX_ID:
        return candidate
    return f"{hashlib.sha256(base.encode()).hexdigest()}:{kind}"


def event_facts(
    event: Touchpoint,
    profile_id: UUID,
    *,
    before: OrderEntry | None,
    after: OrderEntry | None,
    attributes_before: Attributes,
    attributes_after: Attributes,
) -> list[CustomerFact]:
    key, at = event.dedup_key, utc(event.occurred_at)
    out: list[CustomerFact] = []

    channel = event.channel._value_

    def fact(
        kind: FactKind,
        *,
        amount: Decimal | None = None,
        currency: str | None = None,
        order_id: str | None = None,
        channel: str | None = channel,
        segment: str | None = None,
        when: datetime = at,
    ) -> None:
        out.append(
            CustomerFact(
                fact_id=fact_id(key, kind), kind=kind, profile_id=profile_id, occurred_at=when, order_id=order_id,
                amount=amount, currency=currency, channel=channel, segment=segment,
            )
        )

    order = event.order
    if order is not None and after is not None:
        order_id, currency = order.order_id, order.currency
        was, now = implied(before), implied(after)
        if event.type == "order_completed" and (before is None or before.completion is None):
            fact(FactKind.PURCHASE, amount=order.revenue, currency=currency, order_id=order_id)
        elif now.purchased != was.purchased:  # an earlier completion of the same order with another revenue
            out.append(
                _adjustment(fact_id(key, ADJUSTMENT), profile_id, at, order_id, was.purchased - now.purchased, currency)
            )
        if now.cancelled != was.cancelled:
            cancelled_at = after.cancelled.at if after.cancelled is not None else at
            fact(
                FactKind.ORDER_CANCELLED, amount=now.cancelled - was.cancelled, currency=currency, order_id=order_id,
                when=cancelled_at,
            )
        if now.refunded != was.refunded:
            fact(FactKind.REFUND, amount=now.refunded - was.refunded, currency=currency, order_id=order_id)
    if event.cost is not None and event.cost.amount:
        fact(FactKind.COST, amount=event.cost.amount, currency=event.cost.currency)
    if event.type == "subscription_cancelled":
        fact(FactKind.CANCELLATION)
    if attributes_after != attributes_before:
        fact(FactKind.ATTRIBUTES, segment=attributes_after[0], channel=attributes_after[1])
    return out


def _adjustment(
    fid: str, profile_id: UUID, at: datetime, order_id: str, overcounted: Decimal, currency: str | None
) -> CustomerFact:
    return CustomerFact(
        fact_id=fid, kind=FactKind.REFUND, profile_id=profile_id, occurred_at=at, order_id=order_id,
        amount=overcounted, currency=currency,
    )


def merge_facts(
    *,
    survivor: UUID,
    merged: UUID,
    at: datetime,
    attributes_before: Attributes,
    attributes_after: Attributes,
    corrections: Mapping[str, Correction],
) -> list[CustomerFact]:
    """`corrections`: order id -> what merging the two profiles' records of it changed."""
    base = f"merge:{merged}:{survivor}"
    out = [
        CustomerFact(
            fact_id=base, kind=FactKind.MERGED, profile_id=survivor, merged_profile_id=merged, occurred_at=utc(at)
        )
    ]
    for order_id, fix in sorted(corrections.items()):
        order_base = f"{base}:{order_id}"
        refund = fix.overcounted + fix.refunded  # both lower net revenue as a REFUND
        if refund:
            out.append(_adjustment(fact_id(order_base, ADJUSTMENT), survivor, utc(at), order_id, refund, fix.currency))
        if fix.cancelled:
            out.append(
                CustomerFact(
                    fact_id=fact_id(order_base, FactKind.ORDER_CANCELLED), kind=FactKind.ORDER_CANCELLED,
                    profile_id=survivor, occurred_at=utc(fix.cancelled_at or at), order_id=order_id,
                    amount=fix.cancelled, currency=fix.currency,
                )
            )
    if attributes_after != attributes_before:
        out.append(
            CustomerFact(
                fact_id=fact_id(base, FactKind.ATTRIBUTES), kind=FactKind.ATTRIBUTES, profile_id=survivor,
                occurred_at=utc(at), segment=attributes_after[0], channel=attributes_after[1],
            )
        )
    return out


def erased_fact(profile_id: UUID, at: datetime) -> CustomerFact:
    return CustomerFact(fact_id=f"erase:{profile_id}", kind=FactKind.ERASED, profile_id=profile_id, occurred_at=utc(at))
