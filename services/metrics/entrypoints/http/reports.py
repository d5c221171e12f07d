"""GET /v1/churn, /v1/retention, /v1/clv, /v1/summary."""

from datetime import date
from enum import IntEnum
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from services.metrics.adapters.readings import ALL, Breakdown
from services.metrics.domain.churn import ChurnWindow
from services.metrics.entrypoints.http.context import ApiContext, api_context
from services.metrics.entrypoints.http.schemas import (
    ChurnFigures,
    ChurnResponse,
    ClvFigures,
    ClvResponse,
    CohortRow,
    RetentionResponse,
    SummaryResponse,
    WindowRates,
    error_responses,
)
from services.metrics.service_layer.reports import (
    ClvMethod,
    GroupClv,
    ReportRejected,
    churn_report,
    clv_report,
    retention_report,
    summary,
)
from shared.auth import KeyKind, require
from shared.errors import ApiError


class Horizon(IntEnum):
    """The horizons predictive CLV is stored for (`predictions.HORIZONS_MONTHS`), as the schema's enum."""

    THREE = 3
    SIX = 6
    TWELVE = 12
    TWENTY_FOUR = 24
    THIRTY_SIX = 36


router = APIRouter(prefix="/v1", dependencies=[Depends(require(KeyKind.READ))])
Context = Annotated[ApiContext, Depends(api_context)]
AsOf = Annotated[date | None, Query(description="Figures as seen at the end of this day (UTC); default today.")]
By = Annotated[Breakdown | None, Query(description="Break down by segment, acquisition channel or cohort.")]


def _churn_figures(group: str, window: ChurnWindow) -> ChurnFigures:
    return ChurnFigures(
        group=group, start=window.customers_at_start, end=window.customers_at_end, average=window.average_customers,
        acquired=window.acquired, lost=window.lost, rate=window.churn_rate, rate_vs_start=window.standard_churn_rate,
    )


@router.get("/churn", response_model=ChurnResponse, responses=error_responses(422))
async def churn(
    context: Context,
    by: By = None,
    as_of: AsOf = None,
    window_days: Annotated[int, Query(ge=1, le=3650, description="Length of the window ending on as_of.")] = 30,
) -> ChurnResponse:
    day = as_of or context.today()
    async with context.engine.connect() as conn:
        total, groups = await churn_report(conn, as_of=day, days=window_days, by=by)
    return ChurnResponse(
        as_of=day, window_days=window_days, window_start=total.start, by=by.value if by else None,
        total=_churn_figures(ALL, total), groups=[_churn_figures(g.group, g.window) for g in groups],
    )


@router.get("/retention", response_model=RetentionResponse, responses=error_responses(422))
async def retention(context: Context, as_of: AsOf = None) -> RetentionResponse:
    day = as_of or context.today()
    async with context.engine.connect() as conn:
        table = await retention_report(conn, as_of=day)
    return RetentionResponse(
        as_of=day,
        cohorts=[
            CohortRow(
                cohort=c.cohort.strftime("%Y-%m"), size=c.size, active=list(c.active), retention=list(c.retention)
            )
            for c in table
        ],
    )


def _clv_figures(g: GroupClv) -> ClvFigures:
    return ClvFigures(group=g.group, customers=g.customers, average=g.average, total=g.total, detail=g.detail)


@router.get("/clv", response_model=ClvResponse, responses=error_responses(409, 422))
async def clv(
    context: Context,
    method: Annotated[ClvMethod, Query(description="historical, simple or predictive")] = ClvMethod.HISTORICAL,
    by: By = None,
    horizon_months: Annotated[
        Horizon, Query(description="Predictive CLV horizon: the stored horizons, in months.")
    ] = Horizon.TWELVE,
) -> ClvResponse:
    day = context.today()
    async with context.engine.connect() as conn:
        try:
            overall, groups = await clv_report(
                conn, method=method, by=by, horizon_months=int(horizon_months), as_of=day,
                margin=context.settings.margin,
            )
        except ReportRejected as exc:
            raise ApiError(exc.status, exc.code, exc.message) from exc
    return ClvResponse(
        method=method.value, by=by.value if by else None, as_of=day,
        horizon_months=int(horizon_months) if method is ClvMethod.PREDICTIVE else None,
        total=_clv_figures(overall), groups=[_clv_figures(g) for g in groups],
    )


@router.get("/summary", response_model=SummaryResponse, responses=error_responses(422))
async def headline(context: Context, as_of: AsOf = None) -> SummaryResponse:
    day = as_of or context.today()
    async with context.engine.connect() as conn:
        figures = await summary(conn, as_of=day, margin=context.settings.margin)
    return SummaryResponse(
        as_of=day, customers=figures.customers, active=figures.active, lost=figures.lost,
        churn={
            f"{days}d": WindowRates(rate=w.churn_rate, rate_vs_start=w.standard_churn_rate, lost=w.lost)
            for days, w in figures.churn.items()
        },
        clv_average=figures.clv_average, expected_active=figures.expected_active,
    )
