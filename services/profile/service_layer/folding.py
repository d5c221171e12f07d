"""Fold a batch of touchpoint records into the identity graph and the profiles.

Runs inside the transaction the consumer loop owns (which also advances the offsets): the
permanent dedup claim, the state, the timeline and the outbox rows of the facts commit or
roll back together. Nothing here commits. (Counters are bumped before the commit, so a
retried batch can count its merges twice.)
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol
from uuid import UUID, uuid4

from prometheus_client import Counter
from pydantic import ValidationError

from services.profile.adapters.messages import OutboxMessage, fact_message
from services.profile.domain.identity import IdentityPair, usable_pairs
from services.profile.domain.lifecycle import Headline, LifecycleRules, headline_of
from services.profile.domain.resolution import BatchOutcome, GraphView, fold_batch
from shared.events import Touchpoint

MERGES = Counter("touchpoint_profile_merges_total", "Profiles merged into another by identity resolution.")
CONFLICTS = Counter(
    "touchpoint_profile_identity_conflicts_total", "Identities kept apart because two customer ids disagreed."
)
DUPLICATES = Counter("touchpoint_profile_duplicates_total", "Touchpoints skipped as already folded (same id).")


class GraphStore(Protocol):
    async def claim_new(self, keys: Sequence[str]) -> set[str]: ...

    async def lock_view(self, pairs: Sequence[IdentityPair]) -> GraphView: ...

    async def save(
        self,
        outcome: BatchOutcome,
        *,
        headlines: Mapping[UUID, Headline],
        documents: Mapping[str, str],
        outbox: Sequence[OutboxMessage],
    ) -> None: ...


@dataclass(frozen=True, slots=True)
class Rejection:
    index: int  # position of the record in the batch
    reason: str  # machine-readable: invalid_payload, no_identity
    detail: str


@dataclass(frozen=True)
class FoldReport:
    folded: int
    duplicates: int
    rejections: tuple[Rejection, ...]
    outcome: BatchOutcome | None


async def fold_records(
    store: GraphStore,
    values: Sequence[bytes],
    *,
    rules: LifecycleRules,
    facts_topic: str,
    new_id: Callable[[], UUID] = uuid4,
) -> FoldReport:
    rejections: list[Rejection] = []
    events: dict[str, tuple[Touchpoint, str]] = {}
    duplicates = 0
    for index, value in enumerate(values):
        try:
            event = Touchpoint.from_json(value)
        except (ValidationError, ValueError) as exc:
            rejections.append(Rejection(index, "invalid_payload", f"not a touchpoint: {exc}"[:500]))
            continue
        if not usable_pairs(event.identities):
            rejections.append(Rejection(index, "no_identity", "every identity of the event is a junk value"))
            continue
        if event.dedup_key in events:
            duplicates += 1
            continue
        events[event.dedup_key] = (event, value.decode())
    fresh = await store.claim_new(list(events)) if events else set()
    duplicates += len(events) - len(fresh)
    DUPLICATES.inc(duplicates)
    batch = [event for key, (event, _) in events.items() if key in fresh]
    if not batch:
        return FoldReport(0, duplicates, tuple(rejections), None)
    pairs = [pair for event in batch for pair in usable_pairs(event.identities)]
    view = await store.lock_view(pairs)
    outcome = fold_batch(view, batch, new_id=new_id)
    await store.save(
        outcome,
        headlines={pid: headline_of(profile, rules) for pid, profile in outcome.profiles.items()},
        documents={key: events[key][1] for key in fresh},
        outbox=[fact_message(fact, topic=facts_topic) for fact in outcome.facts],
    )
    MERGES.inc(len(outcome.merges))
    CONFLICTS.inc(len(outcome.conflicts))
    return FoldReport(len(batch), duplicates, tuple(rejections), outcome)
