from uuid import UUID

from services.profile.adapters.profile_cache import BYTES_PER_STATE_BYTE, ProfileCache
from services.profile.domain.model import Profile

A, B, C = UUID(int=1), UUID(int=2), UUID(int=3)
SIZE = 100  # bytes of stored state per profile in these tests
CHARGE = BYTES_PER_STATE_BYTE * SIZE


def sizes(*ids: UUID) -> dict[UUID, int]:
    return dict.fromkeys(ids, SIZE)


def test_an_entry_serves_only_the_version_it_was_written_at() -> None:
    cache = ProfileCache(10 * CHARGE)
    profile = Profile(customer_id="c1", events=2)
    cache.written({A: profile}, {A: 3}, gone=(), state_sizes=sizes(A))
    assert cache.versions([A, B]) == {A: (3, profile)}  # lock_view uses it only if the row is still at 3


def test_a_later_write_replaces_the_entry_and_merged_away_profiles_leave() -> None:
    cache = ProfileCache(10 * CHARGE)
    cache.written({A: Profile(events=1), B: Profile(events=1)}, {A: 1, B: 1}, gone=(), state_sizes=sizes(A, B))
    survivor = Profile(events=3)
    cache.written({A: survivor}, {A: 2}, gone=[B], state_sizes=sizes(A))
    assert cache.versions([A, B]) == {A: (2, survivor)}
    assert cache.used_bytes == CHARGE


def test_the_least_recently_written_entries_are_evicted_to_stay_within_the_budget() -> None:
    cache = ProfileCache(2 * CHARGE)
    cache.written({A: Profile(), B: Profile()}, {A: 1, B: 1}, gone=(), state_sizes=sizes(A, B))
    cache.written({A: Profile(events=1)}, {A: 2}, gone=(), state_sizes=sizes(A))
    cache.written({C: Profile()}, {C: 1}, gone=(), state_sizes=sizes(C))
    assert set(cache.versions([A, B, C])) == {A, C}
    assert cache.used_bytes == 2 * CHARGE


def test_what_has_no_written_version_or_exceeds_the_budget_is_not_kept() -> None:
    cache = ProfileCache(CHARGE)
    cache.written({A: Profile()}, {}, gone=(), state_sizes=sizes(A))
    cache.written({B: Profile()}, {B: 1}, gone=(), state_sizes={B: SIZE + 1})
    assert len(cache) == 0 and cache.used_bytes == 0
    off = ProfileCache(0)
    off.written({A: Profile()}, {A: 1}, gone=(), state_sizes=sizes(A))
    assert len(off) == 0
