"""A customer's folded history, and the pure fold of resolved customer facts into it.

Everything here commutes: purchase days and deductions are sums per day, segment and the
attributed channel resolve last-write-wins on event time, the channel of the first purchase
first-write-wins, the cancellation date keeps the latest. Folding the same facts in any order
gives the same history; a repeated fact is kept out by the permanent dedup upstream.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from decimal import Decimal

from shared.facts import CustomerFact, FactKind

ZERO = Decimal(0)


@dataclass(frozen=True, order=True)
class Stamped:
    """A value and the event time that set it; ordered by time, then value (a deterministic tie-break)."""

    at: datetime
    value: str


def latest(a: Stamped | None, b: Stamped | None) -> Stamped | None:
    if a is None or b is None:
        return a or b
    return max(a, b)


def earliest(a: Stamped | None, b: Stamped | None) -> Stamped | None:
    if a is None or b is None:
        return a or b
    return min(a, b)


@dataclass(frozen=True)
class PurchaseDay:
    """All purchases of one calendar day: one purchase period."""

    amount: Decimal
    orders: int

    def __add__(self, other: "PurchaseDay") -> "PurchaseDay":
        return PurchaseDay(self.amount + other.amount, self.orders + other.orders)


@dataclass(frozen=True)
class Deductions:
    """Money of one day that lowers a customer's value: refunds, cancelled orders, cost to serve."""

    refunded: Decimal = ZERO
    cancelled: Decimal = ZERO
    cost: Decimal = ZERO

    def __add__(self, other: "Deductions") -> "Deductions":
        return Deductions(self.refunded + other.refunded, self.cancelled + other.cancelled, self.cost + other.cost)


@dataclass(frozen=True)
class CustomerHistory:
    purchases: Mapping[date, PurchaseDay] = field(default_factory=dict)
    deductions: Mapping[date, Deductions] = field(default_factory=dict)
    cancelled_on: date | None = None
    segment: Stamped | None = None
    attributed_channel: Stamped | None = None
    first_purchase_channel: Stamped | None = None


def fact_day(fact: CustomerFact) -> date:
    moment = fact.occurred_at
    return (moment.astimezone(UTC) if moment.tzinfo else moment).date()


def _stamp(fact: CustomerFact, value: str | None) -> Stamped | None:
    if value is None:
        return None
    moment = fact.occurred_at if fact.occurred_at.tzinfo else fact.occurred_at.replace(tzinfo=UTC)
    return Stamped(moment, value)


def _add_day(days: Mapping[date, PurchaseDay], day: date, amount: PurchaseDay) -> dict[date, PurchaseDay]:
    out = dict(days)
    out[day] = out[day] + amount if day in out else amount
    return out


def _deduct(days: Mapping[date, Deductions], day: date, amount: Deductions) -> dict[date, Deductions]:
    out = dict(days)
    out[day] = out[day] + amount if day in out else amount
    return out


def apply_fact(history: CustomerHistory | None, fact: CustomerFact) -> CustomerHistory:
    """The history after one purchase, refund, cancelled order, cost, attributes or cancellation fact.

    Merges and erasures involve two profiles or the tombstones; `plan_batch` handles them.
    """
    h = history or CustomerHistory()
    day, amount = fact_day(fact), fact.amount or ZERO
    if fact.kind is FactKind.PURCHASE:
        return replace(
            h,
            purchases=_add_day(h.purchases, day, PurchaseDay(amount, 1)),
            first_purchase_channel=earliest(h.first_purchase_channel, _stamp(fact, fact.channel)),
            segment=latest(h.segment, _stamp(fact, fact.segment)),
        )
    if fact.kind is FactKind.REFUND:
        return replace(h, deductions=_deduct(h.deductions, day, Deductions(refunded=amount)))
    if fact.kind is FactKind.ORDER_CANCELLED:
        return replace(h, deductions=_deduct(h.deductions, day, Deductions(cancelled=amount)))
    if fact.kind is FactKind.COST:
        return replace(h, deductions=_deduct(h.deductions, day, Deductions(cost=amount)))
    if fact.kind is FactKind.ATTRIBUTES:
        return replace(
            h,
            segment=latest(h.segment, _stamp(fact, fact.segment)),
            attributed_channel=latest(h.attributed_channel, _stamp(fact, fact.channel)),
        )
    if fact.kind is FactKind.CANCELLATION:
        return replace(h, cancelled_on=max(day, h.cancelled_on) if h.cancelled_on else day)
    raise ValueError(f"{fact.kind} facts are not folded into one history")


def merge_histories(survivor: CustomerHistory | None, merged: CustomerHistory | None) -> CustomerHistory | None:
    """One history from two profiles of the same person: days re-keyed and summed, earliest
    acquisition, traits resolved by event time as if every fact had been folded into one."""
    if survivor is None or merged is None:
        return survivor or merged
    purchases: dict[date, PurchaseDay] = dict(survivor.purchases)
    for day, amount in merged.purchases.items():
        purchases[day] = purchases[day] + amount if day in purchases else amount
    deductions: dict[date, Deductions] = dict(survivor.deductions)
    for day, deducted in merged.deductions.items():
        deductions[day] = deductions[day] + deducted if day in deductions else deducted
    cancellations = [d for d in (survivor.cancelled_on, merged.cancelled_on) if d is not None]
    return CustomerHistory(
        purchases=purchases,
        deductions=deductions,
        cancelled_on=max(cancellations) if cancellations else None,
        segment=latest(survivor.segment, merged.segment),
        attributed_channel=latest(survivor.attributed_channel, merged.attributed_channel),
        first_purchase_channel=earliest(survivor.first_purchase_channel, merged.first_purchase_channel),
    )
