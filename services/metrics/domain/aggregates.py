"""What one customer adds to the maintained aggregates, and how a change moves them.

Population: an acquired customer is +1 `acquired` on (acquisition day, group) and +1 `lost` on
(lost day, group). Customers on day t = sum(acquired, day <= t) - sum(lost, day <= t), so the
churn module's "active on d  <=>  acquired_on <= d < lost_on" holds for prefix sums.

CLV rollup: per group, sums over its acquired customers (counts, money, historical CLV and the
stored predictive values). A change of a customer is applied as (after - before), so a moved
purchase day, a new segment, a merge or an erasure all come out as plain deltas.
"""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from services.metrics.domain.figures import CustomerFigures, GroupKey
from services.metrics.domain.history import ZERO
from services.metrics.domain.predictions import HORIZONS_MONTHS, Prediction


@dataclass(frozen=True)
class PopulationDelta:
    acquired: int = 0
    lost: int = 0


def population_change(
    before: Iterable[CustomerFigures], after: Iterable[CustomerFigures]
) -> dict[tuple[date, GroupKey], PopulationDelta]:
    """Non-zero (day, group) deltas that turn the footprint of `before` into that of `after`."""
    acquired: defaultdict[tuple[date, GroupKey], int] = defaultdict(int)
    lost: defaultdict[tuple[date, GroupKey], int] = defaultdict(int)
    for sign, customers in ((-1, before), (1, after)):
        for figures in customers:
            group = figures.group
            if group is None or figures.acquired_on is None:
                continue
            acquired[(figures.acquired_on, group)] += sign
            if figures.lost_on is not None:
                lost[(figures.lost_on, group)] += sign
    keys = set(acquired) | set(lost)
    deltas = {key: PopulationDelta(acquired.get(key, 0), lost.get(key, 0)) for key in keys}
    return {key: d for key, d in deltas.items() if d.acquired or d.lost}


@dataclass(frozen=True)
class Contribution:
    customers: int = 0
    orders: int = 0
    purchase_days: int = 0
    net_revenue: Decimal = ZERO
    cost: Decimal = ZERO
    historical_clv: float = 0.0
    predicted: int = 0
    p_alive: float = 0.0
    expected_purchases: float = 0.0
    clv: tuple[float, ...] = (0.0,) * len(HORIZONS_MONTHS)

    def plus(self, other: "Contribution", sign: int = 1) -> "Contribution":
        return Contribution(
            customers=self.customers + sign * other.customers,
            orders=self.orders + sign * other.orders,
            purchase_days=self.purchase_days + sign * other.purchase_days,
            net_revenue=self.net_revenue + sign * other.net_revenue,
            cost=self.cost + sign * other.cost,
            historical_clv=self.historical_clv + sign * other.historical_clv,
            predicted=self.predicted + sign * other.predicted,
            p_alive=self.p_alive + sign * other.p_alive,
            expected_purchases=self.expected_purchases + sign * other.expected_purchases,
            clv=tuple(a + sign * b for a, b in zip(self.clv, other.clv, strict=True)),
        )

    def is_zero(self) -> bool:
        return self == Contribution()


def contribution(figures: CustomerFigures, prediction: Prediction | None) -> Contribution:
    predicted = prediction is not None
    p = prediction or Prediction.nothing()
    return Contribution(
        customers=1,
        orders=figures.orders,
        purchase_days=figures.frequency + 1,
        net_revenue=figures.net_revenue,
        cost=figures.cost,
        historical_clv=figures.historical_clv,
        predicted=int(predicted),
        p_alive=p.p_alive,
        expected_purchases=p.expected_purchases,
        clv=p.clv,
    )


def rollup_change(
    before: Iterable[tuple[CustomerFigures, Prediction | None]],
    after: Iterable[tuple[CustomerFigures, Prediction | None]],
) -> dict[GroupKey, Contribution]:
    """Per group, what to add to the rollup so that `before` is replaced by `after`."""
    change: dict[GroupKey, Contribution] = {}
    for sign, customers in ((-1, before), (1, after)):
        for figures, prediction in customers:
            group = figures.group
            if group is None:
                continue
            change[group] = change.get(group, Contribution()).plus(contribution(figures, prediction), sign)
    return {group: c for group, c in change.items() if not c.is_zero()}
