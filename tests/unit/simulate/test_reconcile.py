from collections import Counter
from decimal import Decimal

from services.chaos.domain.counters import LifetimeCounter, WindowDelta
from services.chaos.domain.plan import Fault, fault_plan
from services.chaos.domain.reconcile import SEP, FaultCounts, Observed, Totals, figures_line, reconcile
from services.simulate.domain.ledger import Expect, LedgerEntry

SOURCES = {"k1": "shop"}
SAME = Totals(events=3, gross=Decimal("10.00"), cost=Decimal("1.50"), buyers=1, net=Decimal("10.00"))


def entry(event_id: str, expect: Expect = Expect.FOLD, source_key: str = "key:k1") -> LedgerEntry:
    return LedgerEntry(source_key=source_key, id=event_id, type="page_view", api="native", status="accepted",
                       expect=expect)


def observed(folded: set[str], dead: Counter[str] | None = None, repeats: dict[str, int] | None = None,
             profiles: Totals = SAME, metrics: Totals | None = SAME) -> Observed:
    return Observed(frozenset(f"shop{SEP}{k}" for k in folded), dead or Counter(), repeats or {}, SAME, profiles,
                    metrics)


def test_everything_folded_once_is_neither_lost_nor_duplicated() -> None:
    verdict = reconcile([entry("a"), entry("b"), entry("a")], SOURCES, observed({"a", "b"}))
    assert (verdict.acked, verdict.lost, verdict.duplicated, verdict.ok) == (2, 0, 0, True)


def test_an_acknowledged_event_neither_folded_nor_dead_lettered_is_lost() -> None:
    verdict = reconcile([entry("a"), entry("b")], SOURCES, observed({"a"}))
    assert verdict.lost == 1 and verdict.lost_examples == ("shop/b",) and not verdict.ok


def test_a_dead_lettered_event_is_not_lost_but_a_missing_broken_record_is() -> None:
    poison = [entry("p1", Expect.DLQ, "source:broken"), entry("p2", Expect.DLQ, "source:broken")]
    verdict = reconcile([entry("a"), *poison], SOURCES,
                        observed(set(), Counter({f"shop{SEP}a": 1, f"broken{SEP}p1": 2})))
    assert (verdict.lost, verdict.expected_dlq_missing, verdict.dlq, verdict.dlq_redelivered) == (1, 1, 2, 1)


def test_timeline_repeats_and_folded_plus_dead_lettered_count_as_duplicated() -> None:
    verdict = reconcile([entry("a"), entry("b")], SOURCES,
                        observed({"a", "b"}, Counter({f"shop{SEP}b": 1}), {f"shop{SEP}a": 3}))
    assert verdict.duplicated == 3 and not verdict.ok


def test_net_revenue_that_does_not_add_up_is_a_mismatch() -> None:
    off = Totals(events=3, gross=Decimal("10.00"), cost=Decimal("1.50"), buyers=1, net=Decimal("9.99"))
    verdict = reconcile([entry("a")], SOURCES, observed({"a"}, metrics=off))
    assert verdict.mismatches == ("profiles vs metrics: net 10.00 != 9.99",) and not verdict.ok


def test_an_order_dependent_gross_split_with_the_same_net_is_only_noted() -> None:
    split = Totals(events=3, gross=Decimal("14.48"), cancelled=Decimal("4.48"), cost=Decimal("1.50"), buyers=1,
                   net=Decimal("10.00"))
    verdict = reconcile([entry("a")], SOURCES, observed({"a"}, metrics=split))
    assert verdict.ok and len(verdict.notes) == 2


def test_the_figures_line_names_every_fault() -> None:
    verdict = reconcile([entry("a")], SOURCES, observed({"a"}))
    line = figures_line(verdict, FaultCounts(2, 1, 1, 1, 1))
    assert line == ("acked=1 lost=0 duplicated=0 dlq=0 faults=6 (kills_profile=2, kills_metrics=1, "
                    "kills_ingest=1, broker_restarts=1, pg_restarts=1)")


def test_a_counter_is_summed_over_process_lifetimes() -> None:
    counter = LifetimeCounter()
    for pid, value in ((10, 5), (10, 9), (11, 2), (11, 4), (12, 1)):
        counter.observe(pid, value)
    assert (counter.total, counter.lifetimes) == (14, 3)


def test_a_quiet_window_reconciles_accepted_with_folded_and_dead_lettered() -> None:
    assert WindowDelta(10, 8, 2, 5, 5).problems() == []
    assert WindowDelta(10, 8, 1, 5, 4).problems() == ["accepted 10 != folded 8 + dlq 1",
                                                      "facts published 5 != handled by metrics 4"]


def test_the_fault_plan_has_every_fault_even_for_a_short_run() -> None:
    for duration in (10, 30, 120):
        plan = fault_plan(duration)
        assert {fault for _, fault in plan} == set(Fault)
        times = [at for at, _ in plan]
        assert times == sorted(times) and 0 < times[0] and times[-1] < duration


def test_a_ledger_line_round_trips() -> None:
    original = LedgerEntry(source_key="key:k1", id="e1", type="order_completed", api="segment", status="duplicate",
                           order_id="o1", amount="12.50")
    assert LedgerEntry.from_line(original.to_line()) == original
    assert original.decimal_amount == Decimal("12.50")
