"""What the metrics keep per customer, derived from the folded history.

- acquisition: the first purchase day; a profile without a purchase is a prospect, not a
  customer, and stays out of churn and CLV;
- purchase periods are purchase days (same-day purchases merge): frequency = repeat days,
  recency = last - first purchase day (in days), repeat spend = mean of the repeat days;
- net revenue = purchases - refunds - cancelled orders;
- historical CLV = sum of (net revenue - cost) per day, discounted continuously to the
  acquisition day (`clv.historical_clv`); money dated before the acquisition (e.g. a cost of
  serving the prospect) counts at face value on the acquisition day;
- lost on: the explicit cancellation date (when on or after acquisition), otherwise the last
  purchase day + `inactivity_days`. It can lie in the future: the customer is not lost *yet*.
"""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import NamedTuple

from services.metrics.domain.churn import derive_lost_on
from services.metrics.domain.clv import CashFlow, historical_clv
from services.metrics.domain.history import ZERO, CustomerHistory
from services.metrics.domain.summaries import DAY_UNIT, summarize

UNKNOWN = "unknown"


@dataclass(frozen=True)
class Policy:
    inactivity_days: int
    annual_discount_rate: float


class GroupKey(NamedTuple):
    """The dimensions churn and CLV are broken down by (a tuple: cheap to hash and sort)."""

    segment: str
    channel: str
    cohort_month: date


@dataclass(frozen=True)
class CustomerFigures:
    acquired_on: date | None = None
    last_purchase_on: date | None = None
    frequency: int = 0
    recency_days: int = 0
    repeat_spend: float = 0.0
    orders: int = 0
    gross_revenue: Decimal = ZERO
    refunded: Decimal = ZERO
    cancelled_amount: Decimal = ZERO
    cost: Decimal = ZERO
    historical_clv: float = 0.0
    cancelled_on: date | None = None
    lost_on: date | None = None
    segment: str = UNKNOWN
    channel: str = UNKNOWN

    @property
    def net_revenue(self) -> Decimal:
        return self.gross_revenue - self.refunded - self.cancelled_amount

    @property
    def cohort_month(self) -> date | None:
        return self.acquired_on.replace(day=1) if self.acquired_on else None

    @property
    def group(self) -> GroupKey | None:
        cohort = self.cohort_month
        return GroupKey(self.segment, self.channel, cohort) if cohort else None

    def is_active_on(self, day: date) -> bool:
        return (
            self.acquired_on is not None and self.acquired_on <= day and (self.lost_on is None or day < self.lost_on)
        )


def figures_of(history: CustomerHistory, policy: Policy) -> CustomerFigures:
    segment = history.segment.value if history.segment else UNKNOWN
    channel_source = history.attributed_channel or history.first_purchase_channel
    channel = channel_source.value if channel_source else UNKNOWN
    refunded = sum((d.refunded for d in history.deductions.values()), ZERO)
    cancelled = sum((d.cancelled for d in history.deductions.values()), ZERO)
    cost = sum((d.cost for d in history.deductions.values()), ZERO)
    if not history.purchases:
        return CustomerFigures(
            refunded=refunded, cancelled_amount=cancelled, cost=cost, cancelled_on=history.cancelled_on,
            segment=segment, channel=channel,
        )
    days = sorted(history.purchases)
    first, last = days[0], days[-1]
    summary = summarize([(d, float(history.purchases[d].amount)) for d in days], as_of=last, unit_days=DAY_UNIT)
    flows = [CashFlow(max(d, first), float(history.purchases[d].amount)) for d in days]
    flows += [
        CashFlow(max(d, first), -float(x.refunded + x.cancelled), float(x.cost))
        for d, x in sorted(history.deductions.items())
    ]
    cancellation = history.cancelled_on if history.cancelled_on and history.cancelled_on >= first else None
    return CustomerFigures(
        acquired_on=first,
        last_purchase_on=last,
        frequency=summary.x,
        recency_days=int(summary.t_x),
        repeat_spend=summary.m_x,
        orders=sum(p.orders for p in history.purchases.values()),
        gross_revenue=sum((p.amount for p in history.purchases.values()), ZERO),
        refunded=refunded,
        cancelled_amount=cancelled,
        cost=cost,
        historical_clv=historical_clv(flows, acquired_on=first, annual_discount_rate=policy.annual_discount_rate),
        cancelled_on=history.cancelled_on,
        lost_on=derive_lost_on(
            acquired_on=first, last_purchase_on=last, cancelled_on=cancellation,
            inactivity_days=policy.inactivity_days, as_of=date.max,
        ),
        segment=segment,
        channel=channel,
    )
