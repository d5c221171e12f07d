"""New profile ids: random version-4 UUIDs, cheaply.

`uuid.uuid4()` asks the kernel for 16 random bytes per id; a fold batch creates hundreds. Here
the bytes are drawn from `os.urandom` 4 KiB at a time, and each id is asyncpg's UUID type,
the type of every id read back from Postgres: a C implementation whose hash and text form
cost a fraction of the standard library's (ids are dict keys throughout a fold, and every
customer fact carries one as text). It subclasses `uuid.UUID` and compares and hashes equal
to it.
"""

import os
from uuid import UUID

from asyncpg.pgproto.pgproto import UUID as PgUUID

_IDS_PER_DRAW = 256


class RandomIds:
    def __init__(self) -> None:
        self._pool = b""
        self._next = 0

    def __call__(self) -> UUID:
        if self._next >= len(self._pool):
            self._pool, self._next = os.urandom(16 * _IDS_PER_DRAW), 0
        raw = bytearray(self._pool[self._next : self._next + 16])
        self._next += 16
        raw[6] = (raw[6] & 0x0F) | 0x40  # version 4
        raw[8] = (raw[8] & 0x3F) | 0x80  # RFC 4122 variant
        return PgUUID(bytes(raw))  # type: ignore[no-any-return]
