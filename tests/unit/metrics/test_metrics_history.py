"""The pure metrics fold: order does not matter, merges equal folding everything into one profile,
and the figures follow the definitions."""

import math
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import reduce

from hypothesis import given, settings
from hypothesis import strategies as st

from services.metrics.domain.figures import Policy, figures_of
from services.metrics.domain.history import CustomerHistory, apply_fact, merge_histories
from shared.facts import CustomerFact, FactKind

WHO = uuid.UUID(int=1)
POLICY = Policy(inactivity_days=90, annual_discount_rate=0.1)
START = datetime(2024, 1, 1, tzinfo=UTC)
FOLDED_KINDS = [FactKind.PURCHASE, FactKind.REFUND, FactKind.ORDER_CANCELLED, FactKind.COST, FactKind.ATTRIBUTES,
                FactKind.CANCELLATION]


def make(kind: FactKind, day: int, amount: str | None = None, hour: int = 12, **extra: object) -> CustomerFact:
    return CustomerFact(
        fact_id=f"{kind}-{day}-{hour}-{amount}", kind=kind, profile_id=WHO,
        occurred_at=START + timedelta(days=day, hours=hour), amount=Decimal(amount) if amount else None,
        **extra,  # type: ignore[arg-type]
    )


facts_strategy = st.lists(
    st.builds(
        lambda kind, day, cents, hour, seg, ch: make(
            kind, day, f"{cents / 100:.2f}" if kind not in (FactKind.ATTRIBUTES, FactKind.CANCELLATION) else None,
            hour, segment=seg, channel=ch,
        ),
        st.sampled_from(FOLDED_KINDS), st.integers(0, 400), st.integers(0, 100_000), st.integers(0, 23),
        st.sampled_from([None, "gold", "silver"]), st.sampled_from([None, "web", "store"]),
    ),
    max_size=25,
)


def fold(facts: list[CustomerFact]) -> CustomerHistory:
    return reduce(apply_fact, facts, CustomerHistory())


@settings(max_examples=200, deadline=None)
@given(facts_strategy, st.randoms(use_true_random=False))
def test_order_does_not_matter(facts: list[CustomerFact], rng) -> None:  # type: ignore[no-untyped-def]
    shuffled = list(facts)
    rng.shuffle(shuffled)
    assert fold(facts) == fold(shuffled)
    assert figures_of(fold(facts), POLICY) == figures_of(fold(shuffled), POLICY)


@settings(max_examples=200, deadline=None)
@given(facts_strategy, facts_strategy)
def test_merging_two_profiles_equals_folding_all_facts_into_one(a: list[CustomerFact], b: list[CustomerFact]) -> None:
    assert merge_histories(fold(a), fold(b)) == fold(a + b)
    assert merge_histories(fold(b), fold(a)) == fold(a + b)


def test_figures_worked_example() -> None:
    history = fold([
        make(FactKind.PURCHASE, 9, "100", channel="web", segment="gold"),  # 2024-01-10
        make(FactKind.PURCHASE, 9, "50", hour=18),  # same day: one purchase period of 150
        make(FactKind.PURCHASE, 50, "80"),  # 2024-02-20
        make(FactKind.PURCHASE, 64, "40"),  # 2024-03-05
        make(FactKind.REFUND, 66, "10"),
        make(FactKind.COST, 14, "5"),
    ])
    f = figures_of(history, POLICY)
    assert (f.acquired_on, f.last_purchase_on, f.frequency, f.recency_days) == (
        date(2024, 1, 10), date(2024, 3, 5), 2, 55
    )
    assert f.repeat_spend == 60.0  # (80 + 40) / 2, first day excluded
    assert (f.orders, f.gross_revenue, f.net_revenue, f.cost) == (4, Decimal(270), Decimal(260), Decimal(5))
    assert f.lost_on == date(2024, 6, 3)  # 03-05 + 90
    assert (f.segment, f.channel, f.cohort_month) == ("gold", "web", date(2024, 1, 1))
    discounted = sum(v * math.exp(-0.1 * d / 365.25) for d, v in [(0, 150), (5, -5), (41, 80), (55, 40), (57, -10)])
    assert f.historical_clv == discounted


def test_a_cancellation_after_acquisition_sets_the_loss_day_and_one_before_is_ignored() -> None:
    bought = [make(FactKind.PURCHASE, 10, "20"), make(FactKind.PURCHASE, 20, "20")]
    assert figures_of(fold([*bought, make(FactKind.CANCELLATION, 15)]), POLICY).lost_on == date(2024, 1, 16)
    assert figures_of(fold([*bought, make(FactKind.CANCELLATION, 5)]), POLICY).lost_on == date(2024, 1, 21) + \
        timedelta(days=90)


def test_traits_resolve_by_event_time_not_arrival() -> None:
    early = make(FactKind.ATTRIBUTES, 1, segment="silver", channel="ads")
    late = make(FactKind.ATTRIBUTES, 2, segment="gold")
    history = fold([late, early])
    assert (history.segment.value, history.attributed_channel.value) == ("gold", "ads")  # type: ignore[union-attr]


def test_a_prospect_has_no_acquisition_and_no_loss() -> None:
    f = figures_of(fold([make(FactKind.COST, 3, "2.5"), make(FactKind.ATTRIBUTES, 1, segment="gold")]), POLICY)
    assert (f.acquired_on, f.lost_on, f.group, f.cost, f.historical_clv) == (None, None, None, Decimal("2.5"), 0.0)
