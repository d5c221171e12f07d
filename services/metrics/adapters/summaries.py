"""BTYD summaries of every customer straight from metrics.purchase_days, in SQL.

`collect_summaries` builds a temporary table (dropped at commit) with one row per customer
acquired on or before `cutoff`: x = repeat purchase days, t_x = last - first purchase day,
age = as_of - first purchase day (all in days), m_x = mean of the repeat days. Only purchase
days on or before `cutoff` count. The fit then reads it compressed: GROUP BY in SQL, one row
per distinct tuple with its count.
"""

from dataclasses import dataclass
from datetime import date

import numpy as np
import numpy.typing as npt
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class CompressedTuples:
    """Distinct (x, t_x, age) in days, with the number of customers sharing each."""

    x: FloatArray
    t_x_days: FloatArray
    age_days: FloatArray
    weights: FloatArray


@dataclass(frozen=True)
class SpendData:
    """Distinct (x, m_x) of repeat customers with a positive m_x (free orders only carry no spend), with counts."""

    x: FloatArray
    m_x: FloatArray
    weights: FloatArray


async def collect_summaries(conn: AsyncConnection, table: str, *, cutoff: date, as_of: date) -> None:
    await conn.execute(text(f"DROP TABLE IF EXISTS pg_temp.{table}"))
    await conn.execute(
        text(
            f"CREATE TEMP TABLE {table} ON COMMIT DROP AS "
            "WITH days AS (SELECT profile_id, day, amount, min(day) OVER (PARTITION BY profile_id) AS first "
            "FROM metrics.purchase_days WHERE day <= :cutoff) "
            "SELECT profile_id, first, (count(*) - 1)::int AS x, (max(day) - first)::int AS t_x, "
            "(CAST(:as_of AS date) - first)::int AS age, "
            "coalesce((sum(amount) FILTER (WHERE day > first)) / nullif(count(*) - 1, 0), 0)::float8 AS m_x "
            "FROM days GROUP BY profile_id, first"
        ),
        {"cutoff": cutoff, "as_of": as_of},
    )
    await conn.execute(text(f"ANALYZE {table}"))


def _floats(values: list[float] | None) -> FloatArray:
    return np.asarray(values or [], dtype=np.float64)


async def compressed_tuples(conn: AsyncConnection, table: str) -> CompressedTuples:
    row = (
        await conn.execute(
            text(
                "SELECT array_agg(x) AS x, array_agg(t_x) AS t_x, array_agg(age) AS age, array_agg(n) AS n "
                f"FROM (SELECT x, t_x, age, count(*) AS n FROM {table} GROUP BY x, t_x, age) AS tuples"
            )
        )
    ).one()
    return CompressedTuples(_floats(row.x), _floats(row.t_x), _floats(row.age), _floats(row.n))


async def spend_data(conn: AsyncConnection, table: str) -> SpendData:
    row = (
        await conn.execute(
            text(
                "SELECT array_agg(x) AS x, array_agg(m_x) AS m_x, array_agg(n) AS n "
                f"FROM (SELECT x, m_x, count(*) AS n FROM {table} WHERE x > 0 AND m_x > 0 GROUP BY x, m_x) AS tuples"
            )
        )
    ).one()
    return SpendData(_floats(row.x), _floats(row.m_x), _floats(row.n))
