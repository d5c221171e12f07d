"""Read-side queries over the maintained aggregates; none of them scans per-customer rows.

- head counts: prefix sums. The deltas of every day up to a date t are the whole months before t's
  month (metrics.monthly_population) plus the days of t's own month up to t
  (metrics.daily_population); customers on t = sum(acquired - lost) over them. Window figures
  come from the prefix sums at the window's start and end: lost = L(end) - L(start), and so on;
- cohort months: the rows up to as-of summed per (cohort, calendar month);
- customer-days: sum over days d <= as_of of (acquired - lost)(d) * (as_of - d + 1), i.e. every
  customer's active days up to as-of, for purchase frequency per customer-year;
- CLV sums: metrics.clv_rollup, one row per (segment, channel, cohort).
"""

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.metrics.domain.churn import ChurnWindow
from services.metrics.domain.predictions import HORIZONS_MONTHS

CLV_COLUMNS = tuple(f"clv_{h}m" for h in HORIZONS_MONTHS)
ALL = "all"


class Breakdown(StrEnum):
    SEGMENT = "segment"
    CHANNEL = "channel"
    COHORT = "cohort"


_COLUMN = {Breakdown.SEGMENT: "segment", Breakdown.CHANNEL: "channel", Breakdown.COHORT: "cohort_month"}


def window_start(as_of: date, days: int) -> date:
    """`as_of - days`, or the first representable day for windows reaching before it."""
    return as_of - timedelta(days=days) if as_of.toordinal() > days else date.min


def _group(by: Breakdown | None) -> str:
    return _COLUMN[by] if by else f"'{ALL}'"


def group_label(value: object) -> str:
    return value.strftime("%Y-%m") if isinstance(value, date) else str(value)


def _until(bound: str) -> str:
    """Delta rows covering every day up to the date parameter `bound` exactly once."""
    return (
        "SELECT segment, channel, cohort_month, month, acquired, lost FROM metrics.monthly_population "
        f"WHERE month < date_trunc('month', CAST(:{bound} AS date)) "
        "UNION ALL SELECT segment, channel, cohort_month, date_trunc('month', day)::date, acquired, lost "
        f"FROM metrics.daily_population WHERE day >= date_trunc('month', CAST(:{bound} AS date)) "
        f"AND day <= :{bound}"
    )


def _prefixes(bounds: list[str]) -> str:
    """Rows up to each bound, tagged with the bound's position."""
    return " UNION ALL ".join(f"SELECT {i} AS part, u.* FROM ({_until(b)}) AS u" for i, b in enumerate(bounds))


def _sums(part: int) -> str:
    return (
        f"coalesce(sum(acquired) FILTER (WHERE part = {part}), 0) AS acquired_{part}, "
        f"coalesce(sum(lost) FILTER (WHERE part = {part}), 0) AS lost_{part}"
    )


def _window(values: Any, start: date, as_of: date, part: int, end_part: int) -> ChurnWindow:
    a0, l0 = int(values[f"acquired_{part}"]), int(values[f"lost_{part}"])
    a1, l1 = int(values[f"acquired_{end_part}"]), int(values[f"lost_{end_part}"])
    return ChurnWindow(
        start=start, end=as_of, customers_at_start=a0 - l0, customers_at_end=a1 - l1, acquired=a1 - a0, lost=l1 - l0
    )


async def churn_windows(
    conn: AsyncConnection, *, as_of: date, days: int, by: Breakdown | None
) -> dict[str, ChurnWindow]:
    start = window_start(as_of, days)
    rows = await conn.execute(
        text(
            f"SELECT {_group(by)} AS grp, {_sums(0)}, {_sums(1)} FROM ({_prefixes(['start', 'as_of'])}) AS p "
            "GROUP BY grp HAVING sum(acquired) FILTER (WHERE part = 1) > 0 ORDER BY grp"
        ),
        {"start": start, "as_of": as_of},
    )
    return {group_label(row.grp): _window(row._mapping, start, as_of, 0, 1) for row in rows}


@dataclass(frozen=True)
class CohortMonth:
    cohort: date
    month: date
    acquired: int
    net: int  # acquired - lost during the month


async def cohort_months(conn: AsyncConnection, *, as_of: date) -> list[CohortMonth]:
    rows = await conn.execute(
        text(
            "SELECT cohort_month, month, sum(acquired) AS acquired, sum(acquired - lost) AS net "
            f"FROM ({_until('as_of')}) AS u GROUP BY 1, 2 ORDER BY 1, 2"
        ),
        {"as_of": as_of},
    )
    return [CohortMonth(r.cohort_month, r.month, int(r.acquired), int(r.net)) for r in rows]


async def customer_days(conn: AsyncConnection, *, as_of: date, by: Breakdown | None) -> dict[str, int]:
    rows = await conn.execute(
        text(
            f"SELECT {_group(by)} AS grp, coalesce(sum((acquired - lost) * (CAST(:as_of AS date) - day + 1)), 0) AS n "
            "FROM metrics.daily_population WHERE day <= :as_of GROUP BY grp"
        ),
        {"as_of": as_of},
    )
    return {group_label(row.grp): int(row.n) for row in rows}


@dataclass(frozen=True)
class RollupSums:
    customers: int
    orders: int
    purchase_days: int
    net_revenue: Decimal
    cost: Decimal
    historical_clv: float
    predicted: int
    p_alive: float
    expected_purchases: float
    clv: tuple[float, ...]


async def rollup_sums(conn: AsyncConnection, *, by: Breakdown | None) -> dict[str, RollupSums]:
    rows = await conn.execute(
        text(
            f"SELECT {_group(by)} AS grp, sum(customers) AS customers, sum(orders) AS orders, "
            "sum(purchase_days) AS purchase_days, sum(net_revenue) AS net_revenue, sum(cost) AS cost, "
            "sum(historical_clv) AS historical_clv, sum(predicted) AS predicted, sum(p_alive) AS p_alive, "
            "sum(expected_purchases) AS expected_purchases, "
            + ", ".join(f"sum({c}) AS {c}" for c in CLV_COLUMNS)
            + " FROM metrics.clv_rollup GROUP BY grp ORDER BY grp"
        )
    )
    return {
        group_label(row.grp): RollupSums(
            customers=int(row.customers), orders=int(row.orders), purchase_days=int(row.purchase_days),
            net_revenue=row.net_revenue, cost=row.cost, historical_clv=float(row.historical_clv),
            predicted=int(row.predicted), p_alive=float(row.p_alive),
            expected_purchases=float(row.expected_purchases),
            clv=tuple(float(getattr(row, c)) for c in CLV_COLUMNS),
        )
        for row in rows
        if int(row.customers) > 0
    }


@dataclass(frozen=True)
class Headline:
    windows: dict[int, ChurnWindow]
    lost_until: int  # lost on or before as-of, ever
    customer_days: int


async def headline(conn: AsyncConnection, *, as_of: date, windows: tuple[int, ...]) -> Headline:
    """Every window's head counts, the losses to date and the customer-days."""
    starts = [window_start(as_of, days) for days in windows]
    bounds = {f"s{i}": start for i, start in enumerate(starts)} | {"as_of": as_of}
    end = len(windows)
    row = (
        await conn.execute(
            text(
                f"SELECT {', '.join(_sums(i) for i in range(end + 1))} "
                f"FROM ({_prefixes([*(f's{i}' for i in range(end)), 'as_of'])}) AS p"
            ),
            bounds,
        )
    ).one()
    return Headline(
        windows={days: _window(row._mapping, starts[i], as_of, i, end) for i, days in enumerate(windows)},
        lost_until=int(row._mapping[f"lost_{end}"]),
        customer_days=sum((await customer_days(conn, as_of=as_of, by=None)).values()),
    )


async def resolve_profile(conn: AsyncConnection, profile_id: object) -> tuple[str, object | None]:
    """("merged", survivor) / ("erased", None) / ("live", None)."""
    survivor = (
        await conn.execute(
            text("SELECT survivor_id FROM metrics.merged_profiles WHERE merged_profile_id = :p"), {"p": profile_id}
        )
    ).scalar_one_or_none()
    if survivor is not None:
        return "merged", survivor
    erased = (
        await conn.execute(text("SELECT 1 FROM metrics.erased_profiles WHERE profile_id = :p"), {"p": profile_id})
    ).scalar_one_or_none()
    return ("erased", None) if erased else ("live", None)
