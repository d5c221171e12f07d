"""Prometheus gauges of the headline figures, recomputed from the aggregates on a timer.
Labels are windows, variants, methods, states and model names: never anything about a customer."""

import asyncio
import logging
import math
from collections.abc import Callable
from datetime import date

from prometheus_client import Gauge
from sqlalchemy.ext.asyncio import AsyncEngine

from services.metrics.adapters.models import latest_versions
from services.metrics.service_layer.reports import summary

log = logging.getLogger(__name__)

CHURN_RATE = Gauge(
    "touchpoint_churn_rate",
    "Customers lost in the window / average (or starting) customers.",
    ["window_days", "variant"],
)
CLV_AVERAGE = Gauge("touchpoint_clv_average", "Average CLV per acquired customer (predictive: 12 months).", ["method"])
EXPECTED_ACTIVE = Gauge("touchpoint_expected_active_customers", "Sum of P(alive) over customers, as of the last fit.")
CUSTOMERS = Gauge("touchpoint_customers", "Acquired customers, active now or lost.", ["state"])
LAST_FIT = Gauge("touchpoint_model_last_fit_timestamp_seconds", "When the model was last fitted.", ["model"])
LOG_LIKELIHOOD = Gauge("touchpoint_model_log_likelihood", "Log-likelihood of the current fit.", ["model"])


def _value(x: float | None) -> float:
    return math.nan if x is None else float(x)


async def refresh_gauges(engine: AsyncEngine, *, today: date, margin: float) -> None:
    async with engine.connect() as conn:
        figures = await summary(conn, as_of=today, margin=margin)
        versions = await latest_versions(conn)
    for days, window in figures.churn.items():
        CHURN_RATE.labels(str(days), "average").set(_value(window.churn_rate))
        CHURN_RATE.labels(str(days), "start").set(_value(window.standard_churn_rate))
    for method, average in figures.clv_average.items():
        CLV_AVERAGE.labels(method).set(_value(average))
    EXPECTED_ACTIVE.set(_value(figures.expected_active))
    CUSTOMERS.labels("active").set(figures.active)
    CUSTOMERS.labels("lost").set(figures.lost)
    for name, version in versions.items():
        LAST_FIT.labels(name).set(version.fitted_at.timestamp())
        LOG_LIKELIHOOD.labels(name).set(version.log_likelihood)


async def keep_gauges_fresh(
    engine: AsyncEngine, *, today: Callable[[], date], margin: float, every_s: float, stop: asyncio.Event
) -> None:
    while not stop.is_set():
        try:
            await refresh_gauges(engine, today=today(), margin=margin)
        except Exception as exc:
            log.warning("gauge refresh failed", extra={"error": type(exc).__name__})
        try:
            await asyncio.wait_for(stop.wait(), every_s)
        except TimeoutError:
            pass
