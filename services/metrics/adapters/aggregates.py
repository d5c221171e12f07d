"""The maintained aggregates: metrics.daily_population and metrics.monthly_population (acquired /
lost deltas per day or month and group) and metrics.clv_rollup (per-group sums over customers
and their predictions).

Deltas are applied in primary-key order so that concurrent folds lock rows in the same order.
"""

from collections.abc import Mapping
from datetime import date

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.metrics.domain.aggregates import Contribution, PopulationDelta
from services.metrics.domain.figures import GroupKey
from services.metrics.domain.predictions import HORIZONS_MONTHS

CLV_COLUMNS = tuple(f"clv_{h}m" for h in HORIZONS_MONTHS)


async def apply_population_change(
    conn: AsyncConnection, change: Mapping[tuple[date, GroupKey], PopulationDelta]
) -> None:
    """The daily deltas, and the same deltas summed per calendar month."""
    if not change:
        return
    monthly: dict[tuple[date, GroupKey], PopulationDelta] = {}
    for (day, group), delta in change.items():
        key = (day.replace(day=1), group)
        old = monthly.get(key, PopulationDelta())
        monthly[key] = PopulationDelta(old.acquired + delta.acquired, old.lost + delta.lost)
    for table, column, deltas in (("daily_population", "day", change), ("monthly_population", "month", monthly)):
        rows = sorted(deltas.items())
        await conn.execute(
            text(
                f"INSERT INTO metrics.{table} AS p ({column}, segment, channel, cohort_month, acquired, lost) "
                "SELECT * FROM unnest(CAST(:day AS date[]), CAST(:segment AS text[]), CAST(:channel AS text[]), "
                "CAST(:cohort AS date[]), CAST(:acquired AS int[]), CAST(:lost AS int[])) "
                f"ON CONFLICT ({column}, segment, channel, cohort_month) DO UPDATE SET "
                "acquired = p.acquired + EXCLUDED.acquired, lost = p.lost + EXCLUDED.lost"
            ),
            {
                "day": [day for (day, _), _ in rows],
                "segment": [g.segment for (_, g), _ in rows],
                "channel": [g.channel for (_, g), _ in rows],
                "cohort": [g.cohort_month for (_, g), _ in rows],
                "acquired": [d.acquired for _, d in rows],
                "lost": [d.lost for _, d in rows],
            },
        )


_ROLLUP_SUMS = (
    ("customers", "bigint"), ("orders", "bigint"), ("purchase_days", "bigint"), ("net_revenue", "numeric"),
    ("cost", "numeric"), ("historical_clv", "float8"), ("predicted", "bigint"), ("p_alive", "float8"),
    ("expected_purchases", "float8"), *((c, "float8") for c in CLV_COLUMNS),
)


async def apply_rollup_change(conn: AsyncConnection, change: Mapping[GroupKey, Contribution]) -> None:
    if not change:
        return
    rows = sorted(change.items())
    params: dict[str, list[object]] = {
        "segment": [g.segment for g, _ in rows],
        "channel": [g.channel for g, _ in rows],
        "cohort": [g.cohort_month for g, _ in rows],
    }
    for name, _ in _ROLLUP_SUMS:
        if name in CLV_COLUMNS:
            index = CLV_COLUMNS.index(name)
            params[name] = [c.clv[index] for _, c in rows]
        else:
            params[name] = [getattr(c, name) for _, c in rows]
    names = [name for name, _ in _ROLLUP_SUMS]
    unnest = ", ".join(f"CAST(:{n} AS {t}[])" for n, t in _ROLLUP_SUMS)
    await conn.execute(
        text(
            f"INSERT INTO metrics.clv_rollup AS r (segment, channel, cohort_month, {', '.join(names)}) "
            f"SELECT * FROM unnest(CAST(:segment AS text[]), CAST(:channel AS text[]), CAST(:cohort AS date[]), "
            f"{unnest}) ON CONFLICT (segment, channel, cohort_month) DO UPDATE SET "
            + ", ".join(f"{n} = r.{n} + EXCLUDED.{n}" for n in names)
        ),
        params,
    )


REBUILD_POPULATION = """
INSERT INTO metrics.daily_population (day, segment, channel, cohort_month, acquired, lost)
SELECT day, segment, channel, cohort_month, sum(acquired), sum(lost) FROM (
    SELECT acquired_on AS day, segment, channel, date_trunc('month', acquired_on)::date AS cohort_month,
           1 AS acquired, 0 AS lost
    FROM metrics.customers WHERE acquired_on IS NOT NULL
    UNION ALL
    SELECT lost_on, segment, channel, date_trunc('month', acquired_on)::date, 0, 1
    FROM metrics.customers WHERE acquired_on IS NOT NULL AND lost_on IS NOT NULL
) AS footprint
GROUP BY day, segment, channel, cohort_month
"""

REBUILD_ROLLUP = f"""
INSERT INTO metrics.clv_rollup (segment, channel, cohort_month, customers, orders, purchase_days, net_revenue, cost,
                                historical_clv, predicted, p_alive, expected_purchases, {", ".join(CLV_COLUMNS)})
SELECT c.segment, c.channel, date_trunc('month', c.acquired_on)::date, count(*), sum(c.orders),
       sum(c.frequency + 1), sum(c.gross_revenue - c.refunded - c.cancelled_amount), sum(c.cost),
       sum(c.historical_clv), count(p.profile_id), coalesce(sum(p.p_alive), 0),
       coalesce(sum(p.expected_purchases), 0), {", ".join(f"coalesce(sum(p.{c}), 0)" for c in CLV_COLUMNS)}
FROM metrics.customers c LEFT JOIN metrics.predictions p USING (profile_id)
WHERE c.acquired_on IS NOT NULL
GROUP BY 1, 2, 3
"""


async def rebuild_population(conn: AsyncConnection) -> None:
    await conn.execute(text("DELETE FROM metrics.daily_population"))
    await conn.execute(text(REBUILD_POPULATION))
    await conn.execute(text("DELETE FROM metrics.monthly_population"))
    await conn.execute(
        text(
            "INSERT INTO metrics.monthly_population (month, segment, channel, cohort_month, acquired, lost) "
            "SELECT date_trunc('month', day)::date, segment, channel, cohort_month, sum(acquired), sum(lost) "
            "FROM metrics.daily_population GROUP BY 1, 2, 3, 4"
        )
    )


async def rebuild_rollup(conn: AsyncConnection) -> None:
    await conn.execute(text("DELETE FROM metrics.clv_rollup"))
    await conn.execute(text(REBUILD_ROLLUP))
