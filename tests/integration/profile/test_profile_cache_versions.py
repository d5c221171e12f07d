"""The fold's store against a real Postgres: the profile cache is filled only by committed writes
and an entry is used only while the row still has the version it was written at; the claim of
a batch takes the locks of its identity pairs."""

from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any, cast

from profile_harness import engine_for, profile_settings, scalar, stored_graph
from sqlalchemy import text

from services.profile.adapters.graph_store import PostgresGraphStore
from services.profile.adapters.profile_cache import ProfileCache
from services.profile.domain.model import Profile
from services.profile.service_layer.folding import FoldHandler
from shared.consumer import Record
from shared.events import Touchpoint
from tests.support.stack import Env
from tests.unit.profile.profile_fakes import InMemoryGraph
from tests.unit.profile.profile_world import touchpoint

VERSION_OF_C1 = (
    "SELECT p.version FROM profile.profiles p JOIN profile.identities i ON i.profile_id = p.id "
    "WHERE i.kind = 'customer_id' AND i.value = 'c-1'"
)


def records(events: Sequence[Touchpoint]) -> list[Record]:
    return [cast(Any, SimpleNamespace(value=e.to_json())) for e in events]


async def test_a_rolled_back_batch_leaves_nothing_in_the_cache(env: Env) -> None:
    settings = profile_settings(env.settings)
    engine = engine_for(settings)
    cache = ProfileCache(2**20)
    handler = FoldHandler(rules=settings.lifecycle, facts_topic=settings.topics.customers, cache=cache)
    try:
        async with engine.connect() as conn:
            async with conn.begin() as tx:
                await handler(conn, records([touchpoint("r1", customer_id="c-1")]))
                await tx.rollback()
        assert len(cache) == 0  # the loop never reports a rolled-back batch as committed

        async with engine.begin() as retried:
            report = await handler(retried, records([touchpoint("r1", customer_id="c-1")]))
        handler.committed(conn)  # the connection of the rolled-back attempt fills nothing
        assert report == [] and len(cache) == 0
        handler.committed(retried)
        (pid,) = await stored_ids(engine)
        assert cache.versions([pid])[pid][0] == await scalar(engine, VERSION_OF_C1)
    finally:
        await engine.dispose()


async def test_a_profile_another_writer_changed_is_read_again(env: Env) -> None:
    settings = profile_settings(env.settings)
    engine = engine_for(settings)
    cached = FoldHandler(rules=settings.lifecycle, facts_topic=settings.topics.customers, cache=ProfileCache(2**20))
    other = FoldHandler(rules=settings.lifecycle, facts_topic=settings.topics.customers)  # a second consumer
    events = [
        touchpoint("w1", customer_id="c-1"),
        touchpoint("w2", "order_completed", customer_id="c-1"),
        touchpoint("w3", customer_id="c-1", traits={"segment": "vip"}),
    ]
    try:
        for handler, event in zip((cached, other, cached), events, strict=True):
            async with engine.begin() as conn:
                await handler(conn, records([event]))
            handler.committed(conn)
        reference = InMemoryGraph()
        reference.fold(events)
        assert await stored_graph(engine) == reference.canonical()  # w2 is not lost to the cached state
        assert await scalar(engine, VERSION_OF_C1) == 3
    finally:
        await engine.dispose()


async def test_a_cached_profile_is_used_while_the_row_keeps_its_version(env: Env) -> None:
    settings = profile_settings(env.settings)
    engine = engine_for(settings)
    cache = ProfileCache(2**20)
    handler = FoldHandler(rules=settings.lifecycle, facts_topic=settings.topics.customers, cache=cache)
    pair = ("customer_id", "c-1")
    try:
        async with engine.begin() as conn:
            await handler(conn, records([touchpoint("u1", customer_id="c-1")]))
        handler.committed(conn)
        (pid,) = await stored_ids(engine)
        version, stored = cache.versions([pid])[pid]
        marked = Profile(customer_id="c-1", events=stored.events, referrals=99)
        cache.written({pid: marked}, {pid: version}, gone=(), state_sizes={pid: 100})
        async with engine.begin() as conn:
            assert (await PostgresGraphStore(conn, cache).lock_view([pair])).profiles[pid] is marked
        async with engine.begin() as conn:  # any writer moves the version on, an operator's UPDATE too
            await conn.execute(text("UPDATE profile.profiles SET stage = stage WHERE id = :id"), {"id": pid})
        async with engine.begin() as conn:
            assert (await PostgresGraphStore(conn, cache).lock_view([pair])).profiles[pid] == stored
    finally:
        await engine.dispose()


async def stored_ids(engine: Any) -> list[Any]:
    async with engine.connect() as conn:
        return list((await conn.execute(text("SELECT id FROM profile.profiles WHERE merged_into IS NULL"))).scalars())


async def test_the_claim_of_a_batch_takes_the_locks_of_its_identity_pairs(env: Env) -> None:
    engine = engine_for(profile_settings(env.settings))
    held = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND granted"
    try:
        async with engine.begin() as conn:
            store = PostgresGraphStore(conn)
            pairs = [("customer_id", "c-1"), ("email", "a@example.com"), ("customer_id", "c-1")]
            assert await store.claim_and_lock(["test\x1fk1", "test\x1fk2"], pairs) == {"test\x1fk1", "test\x1fk2"}
            assert (await conn.execute(text(held))).scalar() == 2
            assert await store.claim_and_lock(["test\x1fk1", "test\x1fk3"], []) == {"test\x1fk3"}
        async with engine.connect() as conn:
            assert (await conn.execute(text(held))).scalar() == 0  # transaction-level: gone with the commit
    finally:
        await engine.dispose()
