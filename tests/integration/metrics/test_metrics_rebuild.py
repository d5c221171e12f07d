"""`rebuild-aggregates` recomputes from the stored days what the fold maintained incrementally."""

from datetime import timedelta

import pytest

from services.metrics.bootstrap import policy_of
from services.metrics.service_layer.rebuild import rebuild_aggregates
from tests.integration.metrics.harness import Metrics
from tests.integration.metrics.population import Person

CUSTOMERS = "SELECT * FROM metrics.customers ORDER BY profile_id"
POPULATION = (
    "SELECT day, segment, channel, cohort_month, acquired, lost FROM metrics.daily_population "
    "WHERE acquired <> 0 OR lost <> 0 ORDER BY 1, 2, 3, 4"
)
MONTHLY = (
    "SELECT month, segment, channel, cohort_month, acquired, lost FROM metrics.monthly_population "
    "WHERE acquired <> 0 OR lost <> 0 ORDER BY 1, 2, 3, 4"
)
ROLLUP = "SELECT * FROM metrics.clv_rollup WHERE customers <> 0 ORDER BY segment, channel, cohort_month"


def _same(old: list[dict[str, object]], new: list[dict[str, object]]) -> None:
    assert len(old) == len(new)
    for a, b in zip(old, new, strict=True):
        a = {k: v for k, v in a.items() if k != "updated_at"}
        b = {k: v for k, v in b.items() if k != "updated_at"}
        assert a.keys() == b.keys()
        for key in a:
            if isinstance(a[key], float):
                assert b[key] == pytest.approx(a[key], rel=1e-9, abs=1e-9), key
            else:
                assert a[key] == b[key], key


async def test_rebuild_reproduces_the_folded_aggregates(metrics: Metrics, folded: list[Person]) -> None:
    before = [await metrics.rows(q) for q in (CUSTOMERS, POPULATION, MONTHLY, ROLLUP)]
    refigured = await rebuild_aggregates(metrics.engine, policy=policy_of(metrics.settings))
    assert refigured == len(folded)
    after = [await metrics.rows(q) for q in (CUSTOMERS, POPULATION, MONTHLY, ROLLUP)]
    for old, new in zip(before, after, strict=True):
        _same(old, new)


async def test_a_new_inactivity_period_takes_effect_on_rebuild(metrics: Metrics, folded: list[Person]) -> None:
    settings = metrics.settings.model_copy(update={"inactivity_days": 30})
    await rebuild_aggregates(metrics.engine, policy=policy_of(settings))
    rows = await metrics.rows(
        "SELECT last_purchase_on, cancelled_on, acquired_on, lost_on FROM metrics.customers"
    )
    for row in rows:
        cancelled = row["cancelled_on"]
        if cancelled is not None and cancelled >= row["acquired_on"]:  # type: ignore[operator]
            assert row["lost_on"] == cancelled
        else:
            assert row["lost_on"] == row["last_purchase_on"] + timedelta(days=30)  # type: ignore[operator]
    lost = await metrics.rows("SELECT sum(lost) AS n FROM metrics.daily_population")
    assert lost == [{"n": len(folded)}]
