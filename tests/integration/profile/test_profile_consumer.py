import random

from profile_harness import (
    engine_for,
    produce,
    profile_settings,
    read_topic,
    running_consumer,
    scalar,
    stored_graph,
    wait_until,
)

from shared.facts import CustomerFact, FactKind
from tests.support.stack import Env
from tests.unit.profile.profile_fakes import InMemoryGraph
from tests.unit.profile.profile_world import world_events


async def test_a_few_thousand_events_fold_exactly_once_like_the_pure_fold(env: Env) -> None:
    events = world_events(3000, people_count=300, seed=7)
    rng = random.Random(7)
    resent = rng.sample(events, 200)  # at-least-once producers send some events twice
    poison = [b"{not json", b'{"id": "x"}']
    await produce(env.settings, events + resent, raw=poison)
    settings = profile_settings(env.settings)
    engine = engine_for(settings)
    try:
        async with running_consumer(settings):
            await wait_until(
                lambda: _offsets_at(engine, len(events) + len(resent) + len(poison)), timeout_s=60, what="all folded"
            )
        reference = InMemoryGraph()
        reference.fold(events)
        assert await stored_graph(engine) == reference.canonical()
        assert await scalar(engine, "SELECT count(*) FROM profile.timeline") == len(events)
        assert await scalar(engine, "SELECT count(*) FROM profile.processed_events") == len(events)
    finally:
        await engine.dispose()
    dead = await read_topic(env.settings, env.settings.topics.touchpoints_dlq, expect=2)
    assert sorted(r.value for r in dead) == sorted(poison)
    assert {dict(r.headers)["dlq_reason"] for r in dead} == {b"invalid_payload"}


async def test_facts_reach_customers_topic_through_the_outbox(env: Env) -> None:
    events = world_events(400, people_count=40, seed=3)
    await produce(env.settings, events)
    settings = profile_settings(env.settings)
    engine = engine_for(settings)
    try:
        async with running_consumer(settings):
            await wait_until(lambda: _offsets_at(engine, len(events)), timeout_s=30, what="all folded")
            await wait_until(
                lambda: _no_pending(engine), timeout_s=30, what="outbox drained"
            )
        expected = InMemoryGraph()
        outcome = expected.fold(events)
        written = await scalar(engine, "SELECT count(*) FROM profile.outbox")
    finally:
        await engine.dispose()
    facts = [CustomerFact.from_json(r.value) for r in await read_topic(
        env.settings, env.settings.topics.customers, expect=written
    )]
    assert len({f.fact_id for f in facts}) == written
    purchases = sum(f.amount or 0 for f in facts if f.kind is FactKind.PURCHASE)
    refunds = sum(f.amount or 0 for f in facts if f.kind is FactKind.REFUND)
    cancelled = sum(f.amount or 0 for f in facts if f.kind is FactKind.ORDER_CANCELLED)
    from services.profile.domain.orders import summarize_orders

    net = sum(summarize_orders(p.orders).net_revenue for p in outcome.profiles.values())
    assert purchases - refunds - cancelled == net


async def _offsets_at(engine, total: int) -> bool:  # type: ignore[no-untyped-def]
    done = await scalar(engine, "SELECT coalesce(sum(next_offset), 0) FROM profile.consumer_offsets")
    return bool(done >= total)


async def _no_pending(engine) -> bool:  # type: ignore[no-untyped-def]
    return bool(await scalar(engine, "SELECT count(*) FROM profile.outbox WHERE published_at IS NULL") == 0)
