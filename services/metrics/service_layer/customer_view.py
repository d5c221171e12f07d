"""One customer as seen on an as-of date: summary, the three CLVs, P(alive), expected purchases.

Computed live from the customer's own stored days (a handful of rows) and the current model, so
any as-of date and horizon work. Simple CLV for one customer: their AOV x their orders per year
of tenure (tenure counted as at least one year, so a new customer is not extrapolated from a
single day) x the population's expected lifespan (1 / 365-day churn) x margin.
"""

from dataclasses import dataclass, replace
from datetime import date
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncConnection

from services.metrics.adapters.histories import load_customers
from services.metrics.adapters.readings import churn_windows, resolve_profile, window_start
from services.metrics.domain.bgnbd import expected_purchases, p_alive
from services.metrics.domain.clv import (
    DAYS_PER_MONTH,
    DAYS_PER_YEAR,
    average_order_value,
    predictive_clv,
    purchase_frequency,
    simple_clv,
)
from services.metrics.domain.figures import CustomerFigures, Policy, figures_of
from services.metrics.domain.history import CustomerHistory
from services.metrics.domain.summaries import PurchaseSummary, summarize
from services.metrics.service_layer.models import current_prediction_model
from services.metrics.service_layer.reports import LIFESPAN_WINDOW_DAYS, total_window


class CustomerUnavailable(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


@dataclass(frozen=True)
class CustomerView:
    profile_id: UUID
    as_of: date
    state: str  # prospect | active | lost
    figures: CustomerFigures
    summary: PurchaseSummary | None
    time_unit_days: float
    horizon_months: int
    clv: dict[str, float | None]
    p_alive: float | None
    expected_purchases: float | None
    model_versions: dict[str, int]


def history_until(history: CustomerHistory, as_of: date) -> CustomerHistory:
    return replace(
        history,
        purchases={d: p for d, p in history.purchases.items() if d <= as_of},
        deductions={d: x for d, x in history.deductions.items() if d <= as_of},
        cancelled_on=history.cancelled_on if history.cancelled_on and history.cancelled_on <= as_of else None,
    )


async def customer_view(
    conn: AsyncConnection,
    profile_id: UUID,
    *,
    as_of: date,
    horizon_months: int,
    policy: Policy,
    time_unit_days: float,
    monthly_discount_rate: float,
    margin: float,
) -> CustomerView:
    stored = (await load_customers(conn, [profile_id])).get(profile_id)
    if stored is None:
        status, survivor = await resolve_profile(conn, profile_id)
        if status == "merged":
            raise CustomerUnavailable("customer_merged", f"This profile was merged into {survivor}.")
        raise CustomerUnavailable("customer_not_found", "No customer with this profile id.")
    history = history_until(stored.history, as_of)
    figures = figures_of(history, policy)
    model = await current_prediction_model(conn, monthly_discount_rate=monthly_discount_rate, margin=margin)
    unit = model.time_unit_days if model else time_unit_days
    clv: dict[str, float | None] = {"historical": None, "simple": None, "predictive": None}
    view = CustomerView(
        profile_id=profile_id, as_of=as_of, state="prospect", figures=figures, summary=None, time_unit_days=unit,
        horizon_months=horizon_months, clv=clv, p_alive=None, expected_purchases=None,
        model_versions={"bgnbd": model.bgnbd_version, "gamma_gamma": model.gamma_gamma_version} if model else {},
    )
    if figures.acquired_on is None:
        return view
    summary = summarize([(d, float(p.amount)) for d, p in history.purchases.items()], as_of=as_of, unit_days=unit)
    clv["historical"] = figures.historical_clv
    windows = await churn_windows(conn, as_of=as_of, days=LIFESPAN_WINDOW_DAYS, by=None)
    start = window_start(as_of, LIFESPAN_WINDOW_DAYS)
    churn = total_window(list(windows.values()), as_of=as_of, start=start).churn_rate
    if churn and figures.orders:
        tenure_years = max((as_of - figures.acquired_on).days + 1, DAYS_PER_YEAR) / DAYS_PER_YEAR
        clv["simple"] = simple_clv(
            average_order_value=average_order_value(float(figures.net_revenue), figures.orders),
            purchase_frequency=purchase_frequency(figures.orders, 1, tenure_years),
            churn_rate=churn,
            margin=margin,
        )
    cancelled = figures.cancelled_on is not None and figures.acquired_on <= figures.cancelled_on <= as_of
    alive, expected = None, None
    if model is not None:
        x, t_x, T, m_x = summary.x, summary.t_x, summary.T, summary.m_x
        if cancelled:
            clv["predictive"], alive, expected = 0.0, 0.0, 0.0
        else:
            clv["predictive"] = float(
                predictive_clv(
                    model.bgnbd, model.gamma_gamma, x, t_x, T, m_x, horizon_months=horizon_months,
                    monthly_discount_rate=monthly_discount_rate, time_unit_days=unit, margin=margin,
                )
            )
            alive = float(p_alive(model.bgnbd, x, t_x, T))
            expected = float(expected_purchases(model.bgnbd, horizon_months * DAYS_PER_MONTH / unit, x, t_x, T))
    return replace(
        view, state="active" if figures.is_active_on(as_of) else "lost", summary=summary,
        p_alive=alive, expected_purchases=expected,
    )
