"""An in-memory identity graph: the fake behind the GraphStore protocol, and the reference
fold the integration tests compare the database against."""

import itertools
from collections.abc import Iterable, Mapping, Sequence
from uuid import UUID

from services.profile.adapters.messages import OutboxMessage
from services.profile.domain.identity import IdentityPair, usable_pairs
from services.profile.domain.lifecycle import Headline
from services.profile.domain.model import Profile
from services.profile.domain.resolution import BatchOutcome, GraphView, fold_batch
from shared.events import Touchpoint


class InMemoryGraph:
    def __init__(self) -> None:
        self.owners: dict[IdentityPair, UUID] = {}
        self.profiles: dict[UUID, Profile] = {}
        self.merged_into: dict[UUID, UUID] = {}
        self.processed: set[str] = set()
        self.outcomes: list[BatchOutcome] = []
        self.outbox: list[OutboxMessage] = []
        self.headlines: dict[UUID, Headline] = {}
        self._ids = (UUID(int=n) for n in itertools.count(1))

    def new_id(self) -> UUID:
        return next(self._ids)

    def view(self, pairs: Iterable[IdentityPair]) -> GraphView:
        owners = {pair: self.owners[pair] for pair in pairs if pair in self.owners}
        return GraphView(owners=owners, profiles={pid: self.profiles[pid] for pid in set(owners.values())})

    def absorb(self, outcome: BatchOutcome) -> None:
        self.outcomes.append(outcome)
        for old, new in outcome.merged_into.items():
            self.profiles.pop(old, None)
            self.merged_into[old] = new
            for pair, pid in self.owners.items():
                if pid == old:
                    self.owners[pair] = new
            for merged, pid in self.merged_into.items():
                if pid == old:
                    self.merged_into[merged] = new
        self.owners.update(outcome.links)
        self.profiles.update(outcome.profiles)

    def fold(self, events: Sequence[Touchpoint]) -> BatchOutcome:
        """One batch as the consumer folds it: permanent dedup, resolution, fold."""
        fresh: dict[str, Touchpoint] = {}
        for event in events:
            if event.dedup_key not in self.processed:
                fresh.setdefault(event.dedup_key, event)
        self.processed.update(fresh)
        pairs = [p for e in fresh.values() for p in usable_pairs(e.identities)]
        outcome = fold_batch(self.view(pairs), list(fresh.values()), new_id=self.new_id)
        self.absorb(outcome)
        return outcome

    def identities_of(self, pid: UUID) -> frozenset[IdentityPair]:
        return frozenset(pair for pair, owner in self.owners.items() if owner == pid)

    def canonical(self) -> dict[frozenset[IdentityPair], Profile]:
        """Profiles keyed by the identities they hold: equal graphs up to profile-id naming."""
        return {self.identities_of(pid): profile for pid, profile in self.profiles.items()}


class FakeGraphStore:
    """GraphStore over an InMemoryGraph, for the service layer."""

    def __init__(self, graph: InMemoryGraph) -> None:
        self.graph = graph

    async def claim_and_lock(self, keys: Sequence[str], pairs: Sequence[IdentityPair]) -> set[str]:
        fresh = set(keys) - self.graph.processed
        self.graph.processed.update(fresh)
        return fresh

    async def lock_view(self, pairs: Sequence[IdentityPair]) -> GraphView:
        return self.graph.view(pairs)

    async def write_graph(self, outcome: BatchOutcome, *, documents: Mapping[str, str]) -> None:
        self.graph.absorb(outcome)

    async def save_profiles(
        self,
        outcome: BatchOutcome,
        *,
        headlines: Mapping[UUID, Headline],
        states: Mapping[UUID, str],
        outbox: Sequence[OutboxMessage],
    ) -> Mapping[UUID, int]:
        self.graph.headlines.update(headlines)
        self.graph.outbox.extend(outbox)
        return {pid: len(self.graph.outcomes) for pid in outcome.profiles}
