"""Decoded profiles a fold consumer wrote, kept between batches to skip reading and decoding them.

An entry is the profile as a committed transaction wrote it, with the row version that
write produced (`profile.profiles.version`, bumped on every update: by the fold's own
upsert, and by a trigger for every other writer). It is used only when the row, locked
FOR UPDATE, still has that version; any other writer (a consumer of the same group, the
rebuild, an erasure, an operator) moves the version on,
and the row is read from Postgres again. Entries are filled only after the transaction
that wrote them committed, so a rolled-back batch never leaves anything behind. Profiles
are frozen values, so handing the same one to several batches is safe.

Bounded by memory: an entry is charged an estimate of what the decoded profile occupies
(`BYTES_PER_STATE_BYTE` times its stored JSON), and the least recently written entries go
first. Correctness never depends on an entry being there.
"""

from collections.abc import Iterable, Mapping
from uuid import UUID

from services.profile.domain.model import Profile

# Decoded profiles measure 5-9 times their stored JSON (dicts, dataclasses, datetimes, Decimals).
BYTES_PER_STATE_BYTE = 8


class ProfileCache:
    def __init__(self, budget_bytes: int) -> None:
        self.budget_bytes = budget_bytes
        self.used_bytes = 0
        self._entries: dict[UUID, tuple[int, Profile, int]] = {}  # id -> (version, profile, charged bytes)

    def __len__(self) -> int:
        return len(self._entries)

    def versions(self, ids: Iterable[UUID]) -> dict[UUID, tuple[int, Profile]]:
        """The entries held for `ids`, as (version, profile): candidates the row's version confirms or not."""
        entries = self._entries
        return {pid: (entry[0], entry[1]) for pid in ids if (entry := entries.get(pid)) is not None}

    def written(
        self,
        profiles: Mapping[UUID, Profile],
        versions: Mapping[UUID, int],
        gone: Iterable[UUID],
        *,
        state_sizes: Mapping[UUID, int],
    ) -> None:
        """Record a committed batch: `profiles` written at `versions` with stored states of
        `state_sizes` bytes; `gone` were merged away."""
        for pid in gone:
            self._drop(pid)
        for pid, profile in profiles.items():
            self._drop(pid)  # re-inserted last: eviction goes by the latest write
            version = versions.get(pid)
            charge = BYTES_PER_STATE_BYTE * state_sizes.get(pid, 0)
            if version is not None and charge <= self.budget_bytes:
                self._entries[pid] = (version, profile, charge)
                self.used_bytes += charge
        if self.used_bytes > self.budget_bytes:
            for pid in list(self._entries):  # dicts keep insertion order: the oldest first
                self._drop(pid)
                if self.used_bytes <= self.budget_bytes:
                    break

    def _drop(self, pid: UUID) -> None:
        entry = self._entries.pop(pid, None)
        if entry is not None:
            self.used_bytes -= entry[2]
