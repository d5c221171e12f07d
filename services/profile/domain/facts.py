"""Customer facts (customers.v1) that one folded event or one merge gives rise to.

Facts describe state changes, so they are derived from the order ledger entry before and
after the event, not from the event alone:

- PURCHASE when an order becomes completed and is not cancelled (a duplicate completion of
  the same order id, or a completion of an order cancelled earlier, adds nothing);
- REFUND for a refund of an order that is not cancelled;
- ORDER_CANCELLED when an order becomes cancelled, with the amount it still contributed
  (revenue minus refunds so far), so that purchases - refunds - cancellations always equals
  the profile's net revenue;
- COST for a cost to serve, CANCELLATION for `subscription_cancelled`;
- ATTRIBUTES when the segment or the acquisition channel changed;
- MERGED when a profile was merged into another.

Two records of one order can meet: an earlier completion of an order with another revenue,
or an order whose events were split across two profiles that are merged later (a duplicate
completion, a cancellation on one side and the purchase on the other). The revenue counted
twice or not at all is then corrected by a REFUND whose fact id ends in
`:refund_adjustment`; its amount may be negative (revenue given back).

Fact ids are stable: `<event key>:<kind>`, `merge:<merged>:<survivor>`, `erase:<profile>`.
"""

import hashlib
from collections.abc import Mapping
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

    channel = event.channel.value

    def fact(
        kind: FactKind,
        *,
        amount: Decimal | None = None,
        currency: str | None = None,
        order_id: str | None = None,
        channel: str | None = channel,
        segment: str | None = None,
    ) -> None:
        out.append(
            CustomerFact(
                fact_id=fact_id(key, kind), kind=kind, profile_id=profile_id, occurred_at=at, order_id=order_id,
                amount=amount, currency=currency, channel=channel, segment=segment,
            )
        )

    order = event.order
    if order is not None and after is not None:
        order_id, currency = order.order_id, order.currency
        signed = ZERO
        if event.type == "order_completed" and (before is None or before.completion is None) and after.counted:
            fact(FactKind.PURCHASE, amount=order.revenue, currency=currency, order_id=order_id)
            signed += order.revenue
        elif event.type == "order_refunded" and after.cancelled is None:
            fact(FactKind.REFUND, amount=order.revenue, currency=currency, order_id=order_id)
            signed -= order.revenue
        elif event.type == "order_cancelled" and (before is None or before.cancelled is None):
            remaining = before.standing_revenue if before is not None else ZERO
            fact(FactKind.ORDER_CANCELLED, amount=remaining, currency=currency, order_id=order_id)
            signed -= remaining
        change = after.standing_revenue - (before.standing_revenue if before is not None else ZERO)
        if change != signed:  # e.g. an earlier completion of the same order with another revenue
            out.append(_adjustment(fact_id(key, ADJUSTMENT), profile_id, at, order_id, signed - change, currency))
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
    overcounted: Mapping[str, tuple[Decimal, str | None]],
) -> list[CustomerFact]:
    """`overcounted`: order id -> (revenue counted twice by the two profiles, currency)."""
    base = f"merge:{merged}:{survivor}"
    out = [
        CustomerFact(
            fact_id=base, kind=FactKind.MERGED, profile_id=survivor, merged_profile_id=merged, occurred_at=utc(at)
        )
    ]
    for order_id, (amount, currency) in sorted(overcounted.items()):
        fid = fact_id(f"{base}:{order_id}", ADJUSTMENT)
        out.append(_adjustment(fid, survivor, utc(at), order_id, amount, currency))
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
