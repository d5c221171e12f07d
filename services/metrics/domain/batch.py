"""One batch of new customer facts applied to the histories it touches, merges and erasures
included. Pure: the caller loads the histories and tombstones and stores the outcome.

Tombstones keep late facts in line: a fact about a profile that was merged away is folded into
its survivor (chains collapse: A into B, then B into C sends A's facts to C); a fact about an
erased profile is skipped, and erasing a survivor erases the profiles merged into it.
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from uuid import UUID

from services.metrics.domain.history import CustomerHistory, apply_fact, merge_histories
from shared.facts import CustomerFact, FactKind


@dataclass(frozen=True)
class Tombstones:
    merged_into: Mapping[UUID, UUID] = field(default_factory=dict)  # merged profile -> its survivor
    erased: frozenset[UUID] = frozenset()


@dataclass(frozen=True)
class Merged:
    merged_profile_id: UUID
    survivor_id: UUID


@dataclass(frozen=True)
class Erased:
    profile_id: UUID


TombstoneChange = Merged | Erased


@dataclass(frozen=True)
class BatchPlan:
    histories: dict[UUID, CustomerHistory | None]  # every touched profile; None = no longer exists
    tombstones: tuple[TombstoneChange, ...]
    skipped: int  # facts about erased people


def named_profiles(facts: Iterable[CustomerFact]) -> set[UUID]:
    named: set[UUID] = set()
    for fact in facts:
        named.add(fact.profile_id)
        if fact.merged_profile_id is not None:
            named.add(fact.merged_profile_id)
    return named


def resolve(profile_id: UUID, tombstones: Tombstones) -> UUID:
    return tombstones.merged_into.get(profile_id, profile_id)


def plan_batch(
    facts: Sequence[CustomerFact], histories: Mapping[UUID, CustomerHistory], tombstones: Tombstones
) -> BatchPlan:
    merged_into = dict(tombstones.merged_into)
    erased = set(tombstones.erased)
    state: dict[UUID, CustomerHistory | None] = dict(histories)
    changes: list[TombstoneChange] = []
    skipped = 0

    def target(profile_id: UUID) -> UUID:
        return merged_into.get(profile_id, profile_id)

    def erase(profile_id: UUID) -> None:
        state[profile_id] = None
        erased.add(profile_id)
        for merged, survivor in list(merged_into.items()):
            if survivor == profile_id:
                del merged_into[merged]
                erased.add(merged)
        changes.append(Erased(profile_id))

    for fact in facts:
        profile = target(fact.profile_id)
        if fact.kind is FactKind.ERASED:
            if profile not in erased:
                erase(profile)
            continue
        if profile in erased:
            skipped += 1
            continue
        if fact.kind is FactKind.MERGED:
            assert fact.merged_profile_id is not None
            loser = target(fact.merged_profile_id)
            if loser == profile:
                continue
            if loser in erased:
                skipped += 1
                continue
            state[profile] = merge_histories(state.get(profile), state.get(loser))
            state[loser] = None
            for merged, survivor in list(merged_into.items()):
                if survivor == loser:
                    merged_into[merged] = profile
            merged_into[loser] = profile
            changes.append(Merged(loser, profile))
            continue
        state[profile] = apply_fact(state.get(profile), fact)
    touched = {pid: h for pid, h in state.items() if pid not in histories or histories[pid] is not h}
    return BatchPlan(histories=touched, tombstones=tuple(changes), skipped=skipped)
