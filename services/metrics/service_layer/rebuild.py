"""`touchpoint metrics rebuild-aggregates`: recompute every customer's figures from the stored
purchase and deduction days with the current settings (inactivity_days, annual_discount_rate),
then the daily population and the CLV rollup from scratch. One transaction, with the model lock
held exclusively so that no fold interleaves; readers keep seeing the old aggregates until commit.

The SQL restates `domain.figures.figures_of` set-wise; the integration tests hold the two to the
same answers.
"""

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.metrics.adapters.aggregates import rebuild_population, rebuild_rollup
from services.metrics.adapters.locks import own_model
from services.metrics.domain.figures import Policy
from services.metrics.service_layer.unit_of_work import UnitOfWork

REFIGURE_CUSTOMERS = """
WITH days AS (
    SELECT profile_id, day, amount, orders, min(day) OVER (PARTITION BY profile_id) AS first
    FROM metrics.purchase_days
), bought AS (
    SELECT profile_id, first, max(day) AS last, count(*) - 1 AS x, sum(amount) AS gross, sum(orders) AS orders,
           coalesce(sum(amount) FILTER (WHERE day > first) / nullif(count(*) - 1, 0), 0)::float8 AS m_x
    FROM days GROUP BY profile_id, first
), deducted AS (
    SELECT profile_id, sum(refunded) AS refunded, sum(cancelled) AS cancelled, sum(cost) AS cost
    FROM metrics.deduction_days GROUP BY profile_id
), worth AS (
    SELECT profile_id, sum(value * exp(-CAST(:rate AS float8) * (greatest(day, first) - first) / 365.25)) AS clv
    FROM (
        SELECT d.profile_id, d.day, d.amount::float8 AS value, d.first FROM days d
        UNION ALL
        SELECT x.profile_id, x.day, -(x.refunded + x.cancelled + x.cost)::float8, b.first
        FROM metrics.deduction_days x JOIN bought b USING (profile_id)
    ) AS flows GROUP BY profile_id
)
UPDATE metrics.customers AS c SET
    acquired_on = b.first,
    last_purchase_on = b.last,
    frequency = coalesce(b.x, 0),
    recency_days = coalesce(b.last - b.first, 0),
    repeat_spend = coalesce(b.m_x, 0),
    orders = coalesce(b.orders, 0),
    gross_revenue = coalesce(b.gross, 0),
    refunded = coalesce(d.refunded, 0),
    cancelled_amount = coalesce(d.cancelled, 0),
    cost = coalesce(d.cost, 0),
    historical_clv = coalesce(w.clv, 0),
    lost_on = CASE
        WHEN b.first IS NULL THEN NULL
        WHEN c.cancelled_on >= b.first THEN c.cancelled_on
        ELSE b.last + CAST(:inactivity AS int)
    END,
    segment = coalesce(c.segment_value, 'unknown'),
    channel = coalesce(c.attributed_channel, c.first_purchase_channel, 'unknown')
FROM metrics.customers AS k
LEFT JOIN bought AS b USING (profile_id)
LEFT JOIN deducted AS d USING (profile_id)
LEFT JOIN worth AS w USING (profile_id)
WHERE c.profile_id = k.profile_id
"""


async def rebuild_aggregates(engine: AsyncEngine, *, policy: Policy) -> int:
    """Returns the number of customers refigured."""
    async with UnitOfWork(engine) as conn:
        await own_model(conn)
        result = await conn.execute(
            text(REFIGURE_CUSTOMERS), {"rate": policy.annual_discount_rate, "inactivity": policy.inactivity_days}
        )
        await rebuild_population(conn)
        await rebuild_rollup(conn)
    return int(result.rowcount)  # type: ignore[attr-defined]
