"""Churn, retention, CLV and headline figures assembled from the aggregates.

The rates come from `churn.ChurnWindow` itself (churn = lost / ((start + end) / 2), the standard
variant lost / start), so the served figures cannot drift from the pure definition.

CLV, averaged per acquired customer of a group:
- historical: sum of per-customer historical CLV / customers;
- simple: AOV x purchase frequency x expected lifespan x margin with AOV = net revenue / orders,
  frequency = orders per customer-year of activity up to as-of, lifespan = 1 / the 365-day churn
  rate (lost / average customers) in years; undefined (null) when nobody was lost in the year;
- predictive: mean of the stored per-customer predictive CLV for the horizon (3/6/12/24/36 months),
  refreshed at every fit and whenever the customer changes.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import MAXYEAR, date
from decimal import Decimal
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncConnection

from services.metrics.adapters.readings import (
    ALL,
    Breakdown,
    CohortMonth,
    RollupSums,
    churn_windows,
    cohort_months,
    customer_days,
    headline,
    rollup_sums,
    window_start,
)
from services.metrics.domain.churn import ChurnWindow, CohortRetention, last_day_of_month
from services.metrics.domain.clv import DAYS_PER_YEAR, average_order_value, purchase_frequency, simple_clv
from services.metrics.domain.predictions import HORIZONS_MONTHS

CHURN_WINDOWS_DAYS = (30, 90, 365)
LIFESPAN_WINDOW_DAYS = 365


class ClvMethod(StrEnum):
    HISTORICAL = "historical"
    SIMPLE = "simple"
    PREDICTIVE = "predictive"


class ReportRejected(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass(frozen=True)
class GroupChurn:
    group: str
    window: ChurnWindow


def _add_windows(a: ChurnWindow, b: ChurnWindow) -> ChurnWindow:
    return ChurnWindow(
        start=a.start, end=a.end, customers_at_start=a.customers_at_start + b.customers_at_start,
        customers_at_end=a.customers_at_end + b.customers_at_end, acquired=a.acquired + b.acquired,
        lost=a.lost + b.lost,
    )


def total_window(windows: list[ChurnWindow], *, as_of: date, start: date) -> ChurnWindow:
    total = ChurnWindow(start=start, end=as_of, customers_at_start=0, customers_at_end=0, acquired=0, lost=0)
    for window in windows:
        total = _add_windows(total, window)
    return total


async def churn_report(
    conn: AsyncConnection, *, as_of: date, days: int, by: Breakdown | None
) -> tuple[ChurnWindow, list[GroupChurn]]:
    windows = await churn_windows(conn, as_of=as_of, days=days, by=by)
    groups = [GroupChurn(group, window) for group, window in windows.items()]
    start = window_start(as_of, days)
    return total_window([g.window for g in groups], as_of=as_of, start=start), groups if by else []


def retention_table(months: list[CohortMonth], *, as_of: date) -> tuple[CohortRetention, ...]:
    by_cohort: defaultdict[date, dict[date, CohortMonth]] = defaultdict(dict)
    for row in months:
        by_cohort[row.cohort][row.month] = row
    table = []
    for cohort, rows in sorted(by_cohort.items()):
        size = sum(r.acquired for r in rows.values())
        active: list[int] = []
        running = 0
        checkpoint = last_day_of_month(cohort, 0)
        while checkpoint <= as_of:
            month = checkpoint.replace(day=1)
            running += rows[month].net if month in rows else 0
            active.append(running)
            if checkpoint.year == MAXYEAR and checkpoint.month == 12:
                break  # the calendar ends here
            checkpoint = last_day_of_month(cohort, len(active))
        if size:
            table.append(CohortRetention(cohort=cohort, size=size, active=tuple(active)))
    return tuple(table)


async def retention_report(conn: AsyncConnection, *, as_of: date) -> tuple[CohortRetention, ...]:
    return retention_table(await cohort_months(conn, as_of=as_of), as_of=as_of)


@dataclass(frozen=True)
class GroupClv:
    group: str
    customers: int
    average: float | None
    total: float | None
    detail: dict[str, float | None] = field(default_factory=dict)


def _sum_rollups(sums: list[RollupSums]) -> RollupSums:
    return RollupSums(
        customers=sum(s.customers for s in sums),
        orders=sum(s.orders for s in sums),
        purchase_days=sum(s.purchase_days for s in sums),
        net_revenue=sum((s.net_revenue for s in sums), start=Decimal(0)),
        cost=sum((s.cost for s in sums), start=Decimal(0)),
        historical_clv=sum(s.historical_clv for s in sums),
        predicted=sum(s.predicted for s in sums), p_alive=sum(s.p_alive for s in sums),
        expected_purchases=sum(s.expected_purchases for s in sums),
        clv=tuple(sum(s.clv[i] for s in sums) for i in range(len(HORIZONS_MONTHS))),
    )


def _historical(group: str, s: RollupSums) -> GroupClv:
    return GroupClv(
        group, s.customers, s.historical_clv / s.customers, s.historical_clv,
        {"net_revenue": float(s.net_revenue), "cost": float(s.cost)},
    )


def _predictive(group: str, s: RollupSums, horizon_months: int) -> GroupClv:
    index = HORIZONS_MONTHS.index(horizon_months)
    average = s.clv[index] / s.predicted if s.predicted else None
    return GroupClv(
        group, s.customers, average, s.clv[index] if s.predicted else None,
        {
            "predicted_customers": float(s.predicted),
            "expected_active_customers": s.p_alive,
            "expected_purchases_next_12_months": s.expected_purchases,
        },
    )


def simple_figures(s: RollupSums, window: ChurnWindow | None, days_active: int, margin: float) -> GroupClv:
    aov = average_order_value(float(s.net_revenue), s.orders) if s.orders else None
    years = days_active / DAYS_PER_YEAR
    frequency = purchase_frequency(s.orders, s.customers, years / s.customers) if years > 0 else None
    churn = window.churn_rate if window else None
    average = (
        simple_clv(average_order_value=aov, purchase_frequency=frequency, churn_rate=churn, margin=margin)
        if aov is not None and frequency is not None and churn
        else None
    )
    return GroupClv(
        ALL, s.customers, average, average * s.customers if average is not None else None,
        {
            "average_order_value": aov,
            "orders_per_customer_year": frequency,
            "annual_churn_rate": churn,
            "expected_lifespan_years": 1 / churn if churn else None,
        },
    )


async def clv_report(
    conn: AsyncConnection,
    *,
    method: ClvMethod,
    by: Breakdown | None,
    horizon_months: int,
    as_of: date,
    margin: float,
) -> tuple[GroupClv, list[GroupClv]]:
    if method is ClvMethod.PREDICTIVE and horizon_months not in HORIZONS_MONTHS:
        raise ReportRejected(
            422, "unsupported_horizon",
            f"Predictive CLV is kept for horizons of {', '.join(map(str, HORIZONS_MONTHS))} months.",
        )
    sums = await rollup_sums(conn, by=by)
    total = _sum_rollups(list(sums.values()))
    if method is ClvMethod.PREDICTIVE and sums and total.predicted == 0:
        raise ReportRejected(409, "no_model", "No model has been fitted yet: POST /v1/admin/model/refit.")
    if method is ClvMethod.HISTORICAL:
        overall = _historical(ALL, total) if total.customers else GroupClv(ALL, 0, None, None)
        return overall, [_historical(g, s) for g, s in sums.items()] if by else []
    if method is ClvMethod.PREDICTIVE:
        overall = _predictive(ALL, total, horizon_months)
        return overall, [_predictive(g, s, horizon_months) for g, s in sums.items()] if by else []
    windows = await churn_windows(conn, as_of=as_of, days=LIFESPAN_WINDOW_DAYS, by=by)
    days_active = await customer_days(conn, as_of=as_of, by=by)
    start = window_start(as_of, LIFESPAN_WINDOW_DAYS)
    all_window = total_window(list(windows.values()), as_of=as_of, start=start)
    if not total.customers:
        return GroupClv(ALL, 0, None, None), []
    overall = simple_figures(total, all_window, sum(days_active.values()), margin)
    groups = []
    if by:
        for group, s in sums.items():
            figures = simple_figures(s, windows.get(group), days_active.get(group, 0), margin)
            groups.append(GroupClv(group, figures.customers, figures.average, figures.total, figures.detail))
    return overall, groups


@dataclass(frozen=True)
class Summary:
    as_of: date
    customers: int
    active: int
    lost: int
    churn: dict[int, ChurnWindow]
    clv_average: dict[str, float | None]
    expected_active: float | None


async def summary(conn: AsyncConnection, *, as_of: date, margin: float) -> Summary:
    """Headline figures from one pass over the population and one over the rollup."""
    counts = await headline(conn, as_of=as_of, windows=CHURN_WINDOWS_DAYS)
    sums = _sum_rollups(list((await rollup_sums(conn, by=None)).values()))
    year = counts.windows[LIFESPAN_WINDOW_DAYS]
    twelve_months = HORIZONS_MONTHS.index(12)
    clv_average: dict[str, float | None] = {
        ClvMethod.HISTORICAL.value: sums.historical_clv / sums.customers if sums.customers else None,
        ClvMethod.SIMPLE.value: (
            simple_figures(sums, year, counts.customer_days, margin).average if sums.customers else None
        ),
        ClvMethod.PREDICTIVE.value: sums.clv[twelve_months] / sums.predicted if sums.predicted else None,
    }
    return Summary(
        as_of=as_of, customers=year.customers_at_end + counts.lost_until, active=year.customers_at_end,
        lost=counts.lost_until, churn=counts.windows, clv_average=clv_average,
        expected_active=sums.p_alive if sums.predicted else None,
    )
