"""Population deltas and rollup contributions: prefix sums of the deltas must count exactly the
customers the pure churn module counts, and a change is applied as after - before."""

from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from services.metrics.domain.aggregates import Contribution, population_change, rollup_change
from services.metrics.domain.churn import CustomerLifespan, churn_window
from services.metrics.domain.figures import CustomerFigures, GroupKey
from services.metrics.domain.predictions import Prediction

BASE = date(2024, 1, 1)

figures_strategy = st.builds(
    lambda acquired, span, lost: CustomerFigures(
        acquired_on=BASE + timedelta(days=acquired),
        lost_on=None if lost is None else BASE + timedelta(days=acquired + lost),
        last_purchase_on=BASE + timedelta(days=acquired + span), segment="gold",
    ),
    st.integers(0, 300), st.integers(0, 50), st.none() | st.integers(0, 200),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(figures_strategy, max_size=30), st.integers(0, 500), st.integers(1, 200))
def test_prefix_sums_of_the_deltas_agree_with_the_churn_module(
    customers: list[CustomerFigures], as_of_offset: int, days: int
) -> None:
    deltas = population_change([], customers)
    as_of = BASE + timedelta(days=as_of_offset)
    start = as_of - timedelta(days=days)
    at = lambda t: sum(d.acquired - d.lost for (day, _), d in deltas.items() if day <= t)  # noqa: E731
    lost = sum(d.lost for (day, _), d in deltas.items() if start < day <= as_of)
    window = churn_window(
        [CustomerLifespan(f.acquired_on, f.lost_on) for f in customers if f.acquired_on], as_of=as_of, days=days
    )
    assert (at(start), at(as_of), lost) == (window.customers_at_start, window.customers_at_end, window.lost)


def test_moving_the_loss_day_decrements_the_old_day_and_increments_the_new() -> None:
    old = CustomerFigures(acquired_on=date(2024, 1, 1), lost_on=date(2024, 3, 31), segment="gold")
    new = CustomerFigures(acquired_on=date(2024, 1, 1), lost_on=date(2024, 5, 15), segment="gold")
    change = population_change([old], [new])
    group = GroupKey("gold", "unknown", date(2024, 1, 1))
    assert {(day, d.acquired, d.lost) for (day, g), d in change.items() if g == group} == {
        (date(2024, 3, 31), 0, -1), (date(2024, 5, 15), 0, 1)
    }


def test_a_new_segment_moves_the_whole_contribution() -> None:
    before = CustomerFigures(acquired_on=date(2024, 1, 5), lost_on=date(2024, 4, 4), orders=2, frequency=1,
                             gross_revenue=Decimal(30), historical_clv=29.5)
    after = CustomerFigures(acquired_on=date(2024, 1, 5), lost_on=date(2024, 4, 4), orders=2, frequency=1,
                            gross_revenue=Decimal(30), historical_clv=29.5, segment="gold")
    prediction = Prediction(0.5, 1.0, 12.0, (1.0, 2.0, 3.0, 4.0, 5.0))
    change = rollup_change([(before, prediction)], [(after, prediction)])
    unknown, gold = GroupKey("unknown", "unknown", date(2024, 1, 1)), GroupKey("gold", "unknown", date(2024, 1, 1))
    assert change[gold] == Contribution(1, 2, 2, Decimal(30), Decimal(0), 29.5, 1, 0.5, 1.0, (1.0, 2.0, 3.0, 4.0, 5.0))
    assert change[unknown].plus(change[gold]) == Contribution()
    population = defaultdict(int)
    for (_, g), d in population_change([before], [after]).items():
        population[g] += d.acquired
    assert dict(population) == {unknown: -1, gold: 1}
