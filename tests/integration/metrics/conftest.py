from collections.abc import AsyncIterator

import pytest

from services.metrics.config import MetricsSettings
from shared.db import create_engine
from tests.integration.metrics.harness import Metrics
from tests.integration.metrics.population import Person, all_facts, people
from tests.support.stack import Env


@pytest.fixture
async def metrics(env: Env) -> AsyncIterator[Metrics]:
    settings = MetricsSettings(
        **env.settings.model_dump(), refit_interval_s=0, gauge_refresh_s=0, annual_discount_rate=0.1,
        inactivity_days=90,
    )
    engine = create_engine(settings, pool_size=4)
    try:
        yield Metrics(env, settings, engine)
    finally:
        await engine.dispose()


@pytest.fixture
async def folded(metrics: Metrics) -> list[Person]:
    """The seeded population folded in three shuffled chunks."""
    persons = people()
    facts = all_facts(persons)
    third = len(facts) // 3
    for chunk in (facts[:third], facts[third : 2 * third], facts[2 * third :]):
        await metrics.produce(chunk)
        await metrics.fold()
    return persons
