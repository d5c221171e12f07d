"""Fold a batch of touchpoint records into the identity graph and the profiles.

Runs inside the transaction the consumer loop owns (which also advances the offsets): the
permanent dedup claim, the state, the timeline and the outbox rows of the facts commit or
roll back together. Nothing here commits. The counters of a batch are bumped, and the
profiles it wrote are put in the profile cache, by `FoldHandler.committed`, which the loop
calls only after the transaction committed: a batch that rolled back and was retried counts
once, and the cache never holds a state that was not committed.
"""

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, TypeAlias
from uuid import UUID, uuid4

from prometheus_client import Counter
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncConnection

from services.profile.adapters.codec import encode_profile
from services.profile.adapters.graph_store import PostgresGraphStore
from services.profile.adapters.ids import RandomIds
from services.profile.adapters.messages import OutboxMessage, fact_message
from services.profile.adapters.profile_cache import ProfileCache
from services.profile.domain.identity import IdentityPair, usable_pairs
from services.profile.domain.lifecycle import Headline, LifecycleRules, headline_of
from services.profile.domain.resolution import BatchOutcome, GraphView, fold_batch
from shared.consumer import DeadLetter, Record
from shared.events import Touchpoint

MERGES = Counter("touchpoint_profile_merges_total", "Profiles merged into another by identity resolution.")
CONFLICTS = Counter(
    "touchpoint_profile_identity_conflicts_total", "Identities kept apart because two customer ids disagreed."
)
DUPLICATES = Counter("touchpoint_profile_duplicates_total", "Touchpoints skipped as already folded (same id).")


class GraphStore(Protocol):
    async def claim_and_lock(self, keys: Sequence[str], pairs: Sequence[IdentityPair]) -> set[str]: ...

    async def lock_view(self, pairs: Sequence[IdentityPair]) -> GraphView: ...

    async def write_graph(self, outcome: BatchOutcome, *, documents: Mapping[str, str]) -> None: ...

    async def save_profiles(
        self,
        outcome: BatchOutcome,
        *,
        headlines: Mapping[UUID, Headline],
        states: Mapping[UUID, str],
        outbox: Sequence[OutboxMessage],
    ) -> Mapping[UUID, int]: ...


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
    versions: Mapping[UUID, int] = field(default_factory=dict)  # row version each live profile was written at
    state_sizes: Mapping[UUID, int] = field(default_factory=dict)  # bytes of each live profile's stored state


# A record decoded on its own: the touchpoint with its stored text and usable identity pairs,
# or why it cannot be folded (reason, detail).
DecodedRecord: TypeAlias = tuple[Touchpoint, str, list[IdentityPair]] | tuple[str, str]
DECODE_CHUNK = 50  # records decoded between two yields of `FoldHandler.prepare`


def decode_record(value: bytes) -> DecodedRecord:
    """What a record holds, as far as the record alone says: pure and independent of any state."""
    try:
        event = Touchpoint.from_json(value)
    except (ValidationError, ValueError) as exc:
        return ("invalid_payload", f"not a touchpoint: {exc}"[:500])
    pairs = usable_pairs(event.identities)
    if not pairs:
        return ("no_identity", "every identity of the event is a junk value")
    return (event, value.decode(), pairs)


async def fold_records(
    store: GraphStore,
    values: Sequence[bytes],
    *,
    rules: LifecycleRules,
    facts_topic: str,
    new_id: Callable[[], UUID] = uuid4,
    decoded: Sequence[DecodedRecord] | None = None,
    saving: Callable[[], None] | None = None,
) -> FoldReport:
    """Fold a batch of record values. `decoded`, when given, is `decode_record` of each value, in
    the same order (prepared ahead of time). `saving` is called as the last and longest
    statement (the profile rows and the outbox) goes out."""
    rejections: list[Rejection] = []
    events: dict[str, tuple[Touchpoint, str, list[IdentityPair]]] = {}
    duplicates = 0
    for index, item in enumerate(decoded if decoded is not None else map(decode_record, values)):
        if len(item) == 2:
            reason, detail = item
            rejections.append(Rejection(index, reason, detail))
            continue
        event = item[0]
        if event.dedup_key in events:
            duplicates += 1
            continue
        events[event.dedup_key] = item
    # Locks the pairs of every event, also of those that turn out to be folded already: a superset
    # is harmless, and it lets the claim and the locks share one round trip.
    all_pairs = [pair for _, _, pairs in events.values() for pair in pairs]
    fresh = await store.claim_and_lock(list(events), all_pairs) if events else set()
    duplicates += len(events) - len(fresh)
    chosen = [(event, pairs) for key, (event, _, pairs) in events.items() if key in fresh]
    if not chosen:
        return FoldReport(0, duplicates, tuple(rejections), None)
    batch = [event for event, _ in chosen]
    batch_pairs = [pairs for _, pairs in chosen]
    view = await store.lock_view([pair for pairs in batch_pairs for pair in pairs])
    outcome = fold_batch(view, batch, new_id=new_id, pairs=batch_pairs)
    # The graph is written while the profile rows (headline columns, stored state) and the outbox
    # messages are derived: the statement goes out before that work, which overlaps its round trip.
    graph_written = asyncio.ensure_future(
        store.write_graph(outcome, documents={key: events[key][1] for key in fresh})
    )
    try:
        await asyncio.sleep(0)
        headlines = {pid: headline_of(profile, rules) for pid, profile in outcome.profiles.items()}
        states = {pid: encode_profile(profile) for pid, profile in outcome.profiles.items()}
        outbox = [fact_message(fact, topic=facts_topic) for fact in outcome.facts]
    finally:
        await graph_written  # the connection serves one statement at a time, also when the above failed
    saved = asyncio.ensure_future(store.save_profiles(outcome, headlines=headlines, states=states, outbox=outbox))
    if saving is not None:
        saving()
    versions = await saved
    sizes = {pid: len(state) for pid, state in states.items()}
    return FoldReport(len(batch), duplicates, tuple(rejections), outcome, versions, sizes)


def count_committed(report: FoldReport) -> None:
    """Bump the counters of a batch whose transaction committed."""
    DUPLICATES.inc(report.duplicates)
    if report.outcome is not None:
        MERGES.inc(len(report.outcome.merges))
        CONFLICTS.inc(len(report.outcome.conflicts))


class FoldHandler:
    """The consumer loop's batch handler: records in, dead letters out, inside its transaction.

    `committed` (the loop's on-commit hook) applies the effects of the batch folded on that
    connection; a batch that rolled back is replaced by its retry before anything counts it
    or caches what it wrote.
    """

    def __init__(self, *, rules: LifecycleRules, facts_topic: str, cache: ProfileCache | None = None) -> None:
        self.rules, self.facts_topic, self.cache = rules, facts_topic, cache
        self._pending: tuple[AsyncConnection, FoldReport] | None = None
        self.new_id = RandomIds()
        # Decoded batches by the identity of the record sequence the loop prepared them for: the
        # batch in flight and the next one.
        self._prepared: dict[int, tuple[Sequence[Record], list[DecodedRecord]]] = {}
        # Wired to the loop's `open_ahead_window`: the next batch is decoded while this one saves.
        self.saving: Callable[[], None] | None = None

    async def prepare(self, records: Sequence[Record]) -> None:
        """Decode `records` ahead of their fold (the loop's prepare hook: it runs while the batch
        before waits on its transaction), yielding to the event loop every `DECODE_CHUNK` records
        so that the batch in flight is served without delay."""
        decoded: list[DecodedRecord] = []
        for start in range(0, len(records), DECODE_CHUNK):
            decoded.extend(decode_record(r.value or b"") for r in records[start : start + DECODE_CHUNK])
            await asyncio.sleep(0)
        self._prepared[id(records)] = (records, decoded)
        while len(self._prepared) > 2:
            del self._prepared[next(iter(self._prepared))]

    async def __call__(self, conn: AsyncConnection, records: Sequence[Record]) -> Sequence[DeadLetter]:
        self._pending = None
        prepared = self._prepared.get(id(records))
        report = await fold_records(
            PostgresGraphStore(conn, self.cache),
            [r.value or b"" for r in records],
            rules=self.rules,
            facts_topic=self.facts_topic,
            decoded=prepared[1] if prepared is not None and prepared[0] is records else None,
            saving=self.saving,
            new_id=self.new_id,
        )
        self._pending = (conn, report)
        return [DeadLetter(records[r.index], r.reason, r.detail) for r in report.rejections]

    def committed(self, conn: AsyncConnection) -> None:
        pending = self._pending
        if pending is not None and pending[0] is conn:
            self._pending = None
            report = pending[1]
            count_committed(report)
            if self.cache is not None and report.outcome is not None:
                self.cache.written(
                    report.outcome.profiles, report.versions, report.outcome.merged_into, state_sizes=report.state_sizes
                )
