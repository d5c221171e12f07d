"""Planning a batch: redirects after merges, chains, erasures and late facts."""

import uuid
from datetime import UTC, datetime
from decimal import Decimal

from services.metrics.domain.batch import Erased, Merged, Tombstones, plan_batch
from services.metrics.domain.history import CustomerHistory, PurchaseDay
from shared.facts import CustomerFact, FactKind

A, B, C = (uuid.UUID(int=i) for i in (1, 2, 3))
DAY = datetime(2024, 5, 1, 12, tzinfo=UTC)


def buy(who: uuid.UUID, amount: str, fact_id: str) -> CustomerFact:
    return CustomerFact(fact_id=fact_id, kind=FactKind.PURCHASE, profile_id=who, occurred_at=DAY,
                        amount=Decimal(amount))


def merge(survivor: uuid.UUID, merged: uuid.UUID) -> CustomerFact:
    return CustomerFact(fact_id=f"m-{merged}", kind=FactKind.MERGED, profile_id=survivor, occurred_at=DAY,
                        merged_profile_id=merged)


def erase(who: uuid.UUID) -> CustomerFact:
    return CustomerFact(fact_id=f"e-{who}", kind=FactKind.ERASED, profile_id=who, occurred_at=DAY)


def spent(history: CustomerHistory | None) -> Decimal:
    assert history is not None
    return sum((p.amount for p in history.purchases.values()), Decimal(0))


def test_merge_then_late_fact_lands_on_the_survivor() -> None:
    plan = plan_batch([buy(A, "1", "1"), buy(B, "2", "2"), merge(A, B), buy(B, "4", "3")], {}, Tombstones())
    assert plan.histories[B] is None
    assert spent(plan.histories[A]) == Decimal(7)
    assert plan.tombstones == (Merged(B, A),)


def test_loaded_tombstones_redirect_and_chains_collapse() -> None:
    stored = {C: CustomerHistory(purchases={DAY.date(): PurchaseDay(Decimal(10), 1)})}
    plan = plan_batch([merge(C, A), buy(B, "5", "1")], stored, Tombstones(merged_into={B: A}))
    # B was merged into A earlier; A now merges into C, so B's fact reaches C
    assert spent(plan.histories[C]) == Decimal(15)
    assert plan.tombstones == (Merged(A, C),)


def test_erasure_skips_later_facts_and_takes_merged_profiles_along() -> None:
    plan = plan_batch([buy(A, "1", "1"), erase(A), buy(A, "2", "2"), buy(B, "3", "3")], {},
                      Tombstones(merged_into={B: A}))
    assert plan.histories.get(A) is None
    assert plan.skipped == 2
    assert plan.tombstones == (Erased(A),)


def test_known_erased_profiles_are_skipped_and_untouched_histories_are_not_rewritten() -> None:
    stored = {C: CustomerHistory()}
    plan = plan_batch([buy(A, "1", "1"), merge(C, A)], stored, Tombstones(erased=frozenset({A})))
    assert (plan.histories, plan.skipped, plan.tombstones) == ({}, 2, ())
