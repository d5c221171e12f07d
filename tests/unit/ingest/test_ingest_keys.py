import asyncio
from typing import Any

import pytest

from shared.auth import KeyKind, KeyStore, Principal

PRINCIPAL = Principal("k1", KeyKind.WRITE, "shop")


class SlowStore(KeyStore):
    """The shared KeyStore with its database lookup replaced by a slow, counted one."""

    def __init__(self, outcome: Any = PRINCIPAL) -> None:
        super().__init__(None, ttl_s=0)  # type: ignore[arg-type]  # no cache: every verify would look up
        self.calls = 0
        self.release = asyncio.Event()
        self.outcome = outcome

    async def _lookup(self, raw: str, key_id: str, secret: str) -> Principal | None:
        self.calls += 1
        await self.release.wait()
        if isinstance(self.outcome, Exception):
            raise self.outcome
        return self.outcome  # type: ignore[no-any-return]


async def test_concurrent_verifications_of_one_key_query_once() -> None:
    store = SlowStore()
    waiting = [asyncio.create_task(store.verify("tp_write_k1_s")) for _ in range(20)]
    await asyncio.sleep(0)
    store.release.set()
    assert await asyncio.gather(*waiting) == [PRINCIPAL] * 20
    assert store.calls == 1
    assert await store.verify("tp_write_k1_s") == PRINCIPAL
    assert store.calls == 2


async def test_a_failing_verification_fails_every_waiter_and_is_not_remembered() -> None:
    store = SlowStore(outcome=ConnectionError("db down"))
    waiting = [asyncio.create_task(store.verify("tp_write_k1_s")) for _ in range(3)]
    await asyncio.sleep(0)
    store.release.set()
    outcomes = await asyncio.gather(*waiting, return_exceptions=True)
    assert all(isinstance(o, ConnectionError) for o in outcomes)
    store.outcome = PRINCIPAL
    assert await store.verify("tp_write_k1_s") == PRINCIPAL


async def test_waiters_verify_themselves_when_the_first_caller_is_cancelled() -> None:
    store = SlowStore()
    first = asyncio.create_task(store.verify("tp_write_k1_s"))
    await asyncio.sleep(0)
    second = asyncio.create_task(store.verify("tp_write_k1_s"))
    await asyncio.sleep(0)
    first.cancel()
    await asyncio.sleep(0)
    store.release.set()
    assert await second == PRINCIPAL
    with pytest.raises(asyncio.CancelledError):
        await first
