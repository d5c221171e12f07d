"""Request and response bodies of the metrics API."""

from datetime import date, datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from shared.errors import ErrorResponse


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the error bodies a route answers with (401 and 403 on every route)."""
    return {status: {"model": ErrorResponse} for status in (401, 403, *statuses)}


class Body(BaseModel):
    model_config = ConfigDict(frozen=True)


class ChurnFigures(Body):
    group: str
    start: int
    end: int
    average: float
    acquired: int
    lost: int
    rate: float | None
    rate_vs_start: float | None


class ChurnResponse(Body):
    as_of: date
    window_days: int
    window_start: date
    by: str | None
    total: ChurnFigures
    groups: list[ChurnFigures]


class CohortRow(Body):
    cohort: str
    size: int
    active: list[int]
    retention: list[float]


class RetentionResponse(Body):
    as_of: date
    cohorts: list[CohortRow]


class ClvFigures(Body):
    group: str
    customers: int
    average: float | None
    total: float | None
    detail: dict[str, float | None]


class ClvResponse(Body):
    method: str
    by: str | None
    as_of: date
    horizon_months: int | None
    total: ClvFigures
    groups: list[ClvFigures]


class CustomerSummary(Body):
    x: int
    t_x: float
    T: float
    m_x: float
    time_unit_days: float


class CustomerResponse(Body):
    profile_id: UUID
    as_of: date
    state: str
    acquired_on: date | None
    last_purchase_on: date | None
    lost_on: date | None
    cancelled_on: date | None
    segment: str
    channel: str
    cohort: str | None
    orders: int
    frequency: int
    recency_days: int
    repeat_spend: float
    gross_revenue: float
    refunded: float
    cancelled_amount: float
    net_revenue: float
    cost: float
    summary: CustomerSummary | None
    horizon_months: int
    clv: dict[str, float | None]
    p_alive: float | None
    expected_purchases: float | None
    model_versions: dict[str, int]


class ModelVersionBody(Body):
    id: int
    model: str
    params: dict[str, float]
    log_likelihood: float
    n_customers: int
    iterations: int
    converged: bool
    as_of: date
    calibration_end: date
    time_unit_days: float
    fitted_at: datetime


class ModelResponse(Body):
    models: dict[str, ModelVersionBody]


class RefitRequest(Body):
    model_config = ConfigDict(frozen=True, extra="forbid")

    calibration_end: date | None = None
    as_of: date | None = None


class RefitResponse(Body):
    models: dict[str, ModelVersionBody]
    predictions: int
    fit_seconds: float
    seconds: float


class WindowRates(Body):
    rate: float | None
    rate_vs_start: float | None
    lost: int


class SummaryResponse(Body):
    as_of: date
    customers: int
    active: int
    lost: int
    churn: dict[str, WindowRates]
    clv_average: dict[str, float | None]
    expected_active: float | None
