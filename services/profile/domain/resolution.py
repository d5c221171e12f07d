"""Identity resolution and the batch fold: which profile each event belongs to.

Rules, applied to each event in turn against the identity graph:

1. Only usable identity pairs count: junk values ("null", "0", "undefined", ...) never link.
2. The profiles the event's pairs point to are linked by the event. Those that can share a
   person are merged (an anonymous prospect who signs in becomes the known customer).
3. Two different customer ids never merge. A profile holding another customer id keeps its
   identities; an `IdentityConflict` is recorded for each pair it holds, and the event is
   folded into the profile of the event's own customer id (created when needed).
   Without a customer id on the event, the profile of the strongest pair that belongs to a
   known customer wins.
4. The survivor of a merge is the profile holding a customer id, else the one first seen
   (then the lower id), so any fold order gives equal profiles up to profile-id naming.
5. Pairs the graph does not know yet are linked to the event's profile.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

from services.profile.domain.facts import Attributes, Correction, event_facts, implied, merge_correction, merge_facts
from services.profile.domain.fold import ProfileBuilder, utc
from services.profile.domain.identity import IdentityPair, customer_id_of, usable_pairs
from services.profile.domain.model import Profile
from services.profile.domain.orders import acquisition_channel
from shared.catalogue import COMMERCE_TYPES
from shared.events import Touchpoint
from shared.facts import CustomerFact

_NEVER = datetime.max.replace(tzinfo=UTC)
_UNTOUCHED: Attributes = (None, None)


@dataclass(frozen=True, slots=True)
class GraphView:
    """The part of the identity graph a batch needs: its pairs' owners and those profiles."""

    owners: Mapping[IdentityPair, UUID]
    profiles: Mapping[UUID, Profile]


@dataclass(frozen=True, slots=True)
class Merge:
    survivor: UUID
    merged: UUID
    reason: str
    event_key: str
    occurred_at: datetime


@dataclass(frozen=True, slots=True)
class IdentityConflict:
    pair: IdentityPair
    held_by: UUID
    event_profile: UUID
    event_key: str
    occurred_at: datetime


@dataclass(frozen=True, slots=True)
class Placement:
    profile_id: UUID
    event: Touchpoint


@dataclass(frozen=True)
class BatchOutcome:
    profiles: Mapping[UUID, Profile]  # every live profile the batch changed, final state
    created: frozenset[UUID]
    merged_into: Mapping[UUID, UUID]  # merged-away profile -> its final survivor
    links: Mapping[IdentityPair, UUID]  # pairs linked by this batch -> final owner
    merges: tuple[Merge, ...]
    conflicts: tuple[IdentityConflict, ...]
    placements: tuple[Placement, ...]  # each event with the final profile holding it
    facts: tuple[CustomerFact, ...]
    unplaced: tuple[Touchpoint, ...]  # events without a single usable identity


class _BatchFold:
    def __init__(self, view: GraphView, new_id: Callable[[], UUID]) -> None:
        self.owners: dict[IdentityPair, UUID] = dict(view.owners)
        self.held: dict[UUID, set[IdentityPair]] = {}
        for pair, pid in self.owners.items():
            self.held.setdefault(pid, set()).add(pair)
        self.stored = view.profiles
        self.new_id = new_id
        self.builders: dict[UUID, ProfileBuilder] = {}
        self.created: set[UUID] = set()
        self.merged: dict[UUID, UUID] = {}
        self.links: dict[IdentityPair, UUID] = {}
        self.merges: list[Merge] = []
        self.conflicts: list[IdentityConflict] = []
        self.placed: list[tuple[UUID, Touchpoint]] = []
        self.facts: list[CustomerFact] = []
        self.unplaced: list[Touchpoint] = []

    def builder(self, pid: UUID) -> ProfileBuilder:
        found = self.builders.get(pid)
        if found is None:
            found = self.builders[pid] = ProfileBuilder(self.stored[pid])
        return found

    def customer_id(self, pid: UUID) -> str | None:
        found = self.builders.get(pid)
        return found.customer_id if found is not None else self.stored[pid].customer_id

    def first_seen(self, pid: UUID) -> datetime | None:
        found = self.builders.get(pid)
        return found.first_seen if found is not None else self.stored[pid].first_seen

    def live(self, pid: UUID) -> UUID:
        while pid in self.merged:
            pid = self.merged[pid]
        return pid

    def senior(self, candidates: Sequence[UUID]) -> UUID:
        def rank(pid: UUID) -> tuple[bool, datetime, str]:
            return (self.customer_id(pid) is None, self.first_seen(pid) or _NEVER, str(pid))

        return min(candidates, key=rank)

    def choose(self, owners: list[UUID], cid: str | None) -> tuple[UUID | None, list[UUID], list[UUID]]:
        """(survivor or None for a new profile, profiles to merge into it, conflicting profiles)."""
        held = {pid: self.customer_id(pid) for pid in owners}
        if cid is None:
            # the strongest pair that belongs to a known customer decides
            cid = next((held[pid] for pid in owners if held[pid] is not None), None)
        compatible = [pid for pid in owners if held[pid] in (None, cid)]
        conflicting = [pid for pid in owners if held[pid] not in (None, cid)]
        if not compatible:
            return None, [], conflicting
        holder = next((pid for pid in compatible if cid is not None and held[pid] == cid), None)
        survivor = holder if holder is not None else self.senior(compatible)
        return survivor, [pid for pid in compatible if pid != survivor], conflicting

    def attributes(self, pid: UUID) -> Attributes:
        b = self.builder(pid)
        return (b.segment, acquisition_channel(b.orders))

    def merge(self, survivor: UUID, merged: UUID, reason: str, event: Touchpoint) -> None:
        before = self.attributes(survivor)
        kept, gone = self.builder(survivor), self.builder(merged)
        shared = {
            order_id: implied(kept.orders[order_id]) + implied(entry)
            for order_id, entry in gone.orders.items()
            if order_id in kept.orders
        }
        kept.absorb(gone.freeze())
        corrections: dict[str, Correction] = {}
        for order_id, parts in shared.items():
            fix = merge_correction(parts, kept.orders[order_id])
            if fix is not None:
                corrections[order_id] = fix
        del self.builders[merged]
        self.merged[merged] = survivor
        moved = self.held.pop(merged, set())
        for pair in moved:
            self.owners[pair] = survivor
            if pair in self.links:
                self.links[pair] = survivor
        self.held.setdefault(survivor, set()).update(moved)
        after = self.attributes(survivor)
        at = utc(event.occurred_at)
        self.merges.append(Merge(survivor, merged, reason, event.dedup_key, at))
        self.facts.extend(
            merge_facts(
                survivor=survivor, merged=merged, at=at, attributes_before=before, attributes_after=after,
                corrections=corrections,
            )
        )

    def fold(self, event: Touchpoint, pairs: list[IdentityPair]) -> None:
        if not pairs:
            self.unplaced.append(event)
            return
        owners: list[UUID] = []
        linked_by: dict[UUID, IdentityPair] = {}
        for pair in pairs:
            pid = self.owners.get(pair)
            if pid is not None and pid not in linked_by:
                owners.append(pid)
                linked_by[pid] = pair
        survivor, absorbed, conflicting = self.choose(owners, customer_id_of(pairs))
        if survivor is None:
            survivor = self.new_id()
            self.builders[survivor] = ProfileBuilder(Profile())
            self.created.add(survivor)
        for other in absorbed:
            self.merge(survivor, other, f"identity:{linked_by[other][0]}", event)
        at = utc(event.occurred_at)
        for held_by in conflicting:
            for pair in pairs:
                if self.owners.get(pair) == held_by:
                    self.conflicts.append(IdentityConflict(pair, held_by, survivor, event.dedup_key, at))
        for pair in pairs:
            if pair not in self.owners:
                self.owners[pair] = self.links[pair] = survivor
                self.held.setdefault(survivor, set()).add(pair)
        self.apply(survivor, event, pairs)

    def apply(self, pid: UUID, event: Touchpoint, pairs: list[IdentityPair]) -> None:
        touched = (
            "segment" in event.traits
            or "segment" in event.traits_set_once
            or (event.order is not None and event.type in COMMERCE_TYPES)
        )
        order_id = event.order.order_id if event.order is not None else None
        b = self.builder(pid)
        before_entry = b.orders.get(order_id) if order_id is not None else None
        before = self.attributes(pid) if touched else _UNTOUCHED
        b.apply(event, pairs)
        after_entry = b.orders.get(order_id) if order_id is not None else None
        after = self.attributes(pid) if touched else _UNTOUCHED
        self.placed.append((pid, event))
        self.facts.extend(
            event_facts(
                event, pid, before=before_entry, after=after_entry, attributes_before=before, attributes_after=after
            )
        )

    def outcome(self) -> BatchOutcome:
        return BatchOutcome(
            profiles={pid: b.freeze() for pid, b in self.builders.items()},
            created=frozenset(self.created),
            merged_into={pid: self.live(pid) for pid in self.merged},
            links={pair: self.live(pid) for pair, pid in self.links.items()},
            merges=tuple(self.merges),
            conflicts=tuple(self.conflicts),
            placements=tuple(Placement(self.live(pid), event) for pid, event in self.placed),
            facts=tuple(self.facts),
            unplaced=tuple(self.unplaced),
        )


def fold_batch(
    view: GraphView,
    events: Sequence[Touchpoint],
    *,
    new_id: Callable[[], UUID],
    pairs: Sequence[list[IdentityPair]] | None = None,
) -> BatchOutcome:
    """Resolve and fold `events` (already deduplicated) against `view`; pure.

    `pairs`, when given, are the events' `usable_pairs`, in the same order.
    """
    work = _BatchFold(view, new_id)
    if pairs is None:
        pairs = [usable_pairs(event.identities) for event in events]
    for event, event_pairs in zip(events, pairs, strict=True):
        work.fold(event, event_pairs)
    return work.outcome()
