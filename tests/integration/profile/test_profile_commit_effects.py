"""The merge, conflict and duplicate counters count a batch once: only when its transaction
committed, not when it rolled back and was retried."""

from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any, cast

from profile_harness import engine_for, profile_settings
from prometheus_client import REGISTRY

from services.profile.service_layer.folding import FoldHandler
from shared.consumer import Record
from shared.events import Touchpoint
from tests.support.stack import Env
from tests.unit.profile.profile_world import touchpoint


def records(events: Sequence[Touchpoint]) -> list[Record]:
    return [cast(Any, SimpleNamespace(value=e.to_json())) for e in events]


def counted() -> tuple[float, float, float]:
    def value(name: str) -> float:
        return REGISTRY.get_sample_value(name) or 0.0

    return (
        value("touchpoint_profile_merges_total"),
        value("touchpoint_profile_identity_conflicts_total"),
        value("touchpoint_profile_duplicates_total"),
    )


async def test_counters_count_a_batch_only_once_its_transaction_committed(env: Env) -> None:
    settings = profile_settings(env.settings)
    engine = engine_for(settings)
    handler = FoldHandler(rules=settings.lifecycle, facts_topic=settings.topics.customers)
    apart = [
        touchpoint("a1", anonymous_id="cookie-1"),
        touchpoint("a2", customer_id="c-1"),
        touchpoint("a3", customer_id="c-2", email="shared@example.com"),
    ]
    # links cookie-1 to c-1 (a merge), claims c-2's email for c-1 (a conflict), repeats a1 (a duplicate)
    linking = [touchpoint("b1", customer_id="c-1", anonymous_id="cookie-1", email="shared@example.com"), apart[0]]
    try:
        async with engine.begin() as conn:
            await handler(conn, records(apart))
        handler.committed(conn)
        before = counted()

        async with engine.connect() as conn:
            async with conn.begin() as tx:
                await handler(conn, records(linking))
                await tx.rollback()
        assert counted() == before  # the loop never calls committed() for a rolled-back batch

        async with engine.begin() as retried:
            await handler(retried, records(linking))
        handler.committed(conn)  # the connection of the rolled-back attempt counts nothing
        assert counted() == before
        handler.committed(retried)
        handler.committed(retried)  # and a batch counts once, however often it is reported
        assert counted() == (before[0] + 1, before[1] + 1, before[2] + 1)
    finally:
        await engine.dispose()
