"""The customer facts of a set of events imply the same thing whatever order the events
arrive in: completions, refunds and cancellations of one order in every order, duplicated,
split into batches and across profiles that a later event merges."""

import itertools
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from profile_fakes import InMemoryGraph
from profile_world import T0, order, touchpoint

from services.profile.domain.orders import summarize_orders
from shared.events import CostToServe, Touchpoint
from shared.facts import CustomerFact, FactKind

# one person seen as two anonymous visitors and as a customer; events carrying two of the
# identities merge the profiles the others created
IDENTITIES: list[dict[str, str]] = [
    {"anonymous_id": "a1"}, {"anonymous_id": "a2"}, {"customer_id": "c"},
    {"anonymous_id": "a1", "customer_id": "c"}, {"anonymous_id": "a2", "customer_id": "c"},
]


@dataclass(frozen=True)
class Implied:
    """What a stream of facts tells the metrics service."""

    purchases: tuple[int, Decimal]  # count, sum
    cancelled: tuple[int, Decimal]
    refunded: Decimal
    cost: tuple[int, Decimal]
    first_purchase: datetime | None


def implied(facts: list[CustomerFact]) -> Implied:
    count: dict[FactKind, int] = defaultdict(int)
    total: dict[FactKind, Decimal] = defaultdict(Decimal)
    for fact in facts:
        count[fact.kind] += 1
        total[fact.kind] += fact.amount or Decimal(0)
    dates = [f.occurred_at for f in facts if f.kind is FactKind.PURCHASE]
    return Implied(
        purchases=(count[FactKind.PURCHASE], total[FactKind.PURCHASE]),
        cancelled=(count[FactKind.ORDER_CANCELLED], total[FactKind.ORDER_CANCELLED]),
        refunded=total[FactKind.REFUND],
        cost=(count[FactKind.COST], total[FactKind.COST]),
        first_purchase=min(dates, default=None),
    )


@st.composite
def order_histories(draw: st.DrawFn) -> list[Touchpoint]:
    """Up to three orders, each with at most one completion, refunds and cancellations."""
    events: list[Touchpoint] = []

    def add(event_type: str, **extra: object) -> None:
        ids = draw(st.sampled_from(IDENTITIES))
        at = T0 + timedelta(days=draw(st.integers(0, 60)), minutes=draw(st.integers(0, 2)))
        events.append(touchpoint(f"e{len(events)}", event_type, at=at, **ids, **extra))  # type: ignore[arg-type]

    for number in range(draw(st.integers(1, 3))):
        order_id = f"o{number}"
        if draw(st.booleans()):
            add("order_completed", order=order(order_id, str(draw(st.integers(0, 90))), ("p1", "shoes")))
        for _ in range(draw(st.integers(0, 2))):
            add("order_refunded", order=order(order_id, str(draw(st.integers(1, 30)))))
        for _ in range(draw(st.integers(0, 2))):
            add("order_cancelled", order=order(order_id))
    for _ in range(draw(st.integers(0, 2))):
        add("inbound_call", cost=CostToServe(amount=Decimal(draw(st.integers(1, 9)))))
    for _ in range(draw(st.integers(0 if events else 1, 2))):
        add("page_view")
    return events


Arrival = tuple[list[Touchpoint], list[list[Touchpoint]]]


@st.composite
def arrivals(draw: st.DrawFn) -> Arrival:
    """A history, and the same events delivered in any order, partly twice, in any batches."""
    events = draw(order_histories())
    repeats = draw(st.lists(st.sampled_from(events), max_size=5))
    delivered = draw(st.permutations(events + repeats))
    cuts = sorted(draw(st.lists(st.integers(0, len(delivered)), max_size=4)))
    bounds = [0, *cuts, len(delivered)]
    return events, [delivered[a:b] for a, b in itertools.pairwise(bounds)]


MONEY = {FactKind.PURCHASE, FactKind.REFUND, FactKind.ORDER_CANCELLED}


def money(facts: list[CustomerFact]) -> list[tuple[FactKind, Decimal | None]]:
    return [(f.kind, f.amount) for f in facts if f.kind in MONEY]


def facts_of(batches: list[list[Touchpoint]]) -> tuple[InMemoryGraph, list[CustomerFact]]:
    graph = InMemoryGraph()
    return graph, [fact for batch in batches for fact in graph.fold(batch).facts]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(arrivals())
def test_the_facts_imply_the_same_whatever_the_arrival_order(arrival: Arrival) -> None:
    events, batches = arrival
    _, in_order = facts_of([sorted(events, key=lambda e: (e.occurred_at, e.id))])
    graph, shuffled = facts_of(batches)
    assert implied(shuffled) == implied(in_order)
    # and what they imply is the profile's own order ledger
    summaries = [summarize_orders(p.orders) for p in graph.profiles.values()]
    completed = [e for e in events if e.type == "order_completed"]
    assert implied(shuffled).purchases == (len(completed), sum(s.gross_revenue for s in summaries))
    assert implied(shuffled).cancelled[1] == sum(s.cancelled_revenue for s in summaries)
    assert implied(shuffled).refunded == sum(s.refunded for s in summaries)
    assert implied(shuffled).first_purchase == min((e.occurred_at for e in completed), default=None)
    assert len({f.fact_id for f in shuffled}) == len(shuffled)


def _one_order(*types: str) -> list[Touchpoint]:
    amounts = {"order_completed": "50", "order_refunded": "20", "order_cancelled": "0"}
    return [
        touchpoint(f"{t}-{n}", t, customer_id="c", at=T0 + timedelta(days=n), order=order("o1", amounts[t]))
        for n, t in enumerate(types)
    ]


def test_a_cancellation_before_its_completion_still_reports_the_purchase_and_the_cancellation() -> None:
    completed_first = _one_order("order_completed", "order_cancelled")
    _, facts = facts_of([[completed_first[1]], [completed_first[0]]])
    facts = [f for f in facts if f.kind in MONEY]
    assert money(facts) == [(FactKind.PURCHASE, Decimal(50)), (FactKind.ORDER_CANCELLED, Decimal(50))]
    assert facts[0].occurred_at == T0 and facts[1].occurred_at == T0 + timedelta(days=1)  # each at its own time


def test_a_cancellation_after_refunds_gives_the_refunds_back() -> None:
    events = _one_order("order_completed", "order_refunded", "order_cancelled")
    _, facts = facts_of([events])
    assert money(facts) == [
        (FactKind.PURCHASE, Decimal(50)), (FactKind.REFUND, Decimal(20)),
        (FactKind.ORDER_CANCELLED, Decimal(50)), (FactKind.REFUND, Decimal(-20)),
    ]
    _, reversed_facts = facts_of([events[::-1]])
    assert money(reversed_facts) == [(FactKind.PURCHASE, Decimal(50)), (FactKind.ORDER_CANCELLED, Decimal(50))]
