"""Write-key verification with one database query per key at a time.

The shared KeyStore caches verified keys for a few seconds; when an entry expires under
load, every request in flight would query the database for the same key at once. Here the
first caller queries and the others await its answer.
"""

import asyncio

from shared.auth import KeyStore, Principal


class SingleFlightKeys:
    def __init__(self, store: KeyStore) -> None:
        self.store = store
        self._pending: dict[str, asyncio.Future[Principal | None]] = {}

    async def verify(self, raw: str) -> Principal | None:
        pending = self._pending.get(raw)
        if pending is not None:
            try:
                return await asyncio.shield(pending)
            except asyncio.CancelledError:
                if not pending.cancelled():
                    raise
                return await self.store.verify(raw)
        answer: asyncio.Future[Principal | None] = asyncio.get_running_loop().create_future()
        self._pending[raw] = answer
        try:
            principal = await self.store.verify(raw)
        except BaseException as exc:
            if isinstance(exc, asyncio.CancelledError):
                answer.cancel()
            else:
                answer.set_exception(exc)
                answer.exception()  # retrieved here; waiters re-raise it
            raise
        finally:
            del self._pending[raw]
        answer.set_result(principal)
        return principal
