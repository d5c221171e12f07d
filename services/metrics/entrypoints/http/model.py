"""GET /v1/model, POST /v1/admin/model/refit."""

from typing import Annotated

from fastapi import APIRouter, Body, Depends

from services.metrics.adapters.models import ModelVersion, latest_versions
from services.metrics.entrypoints.http.context import ApiContext, api_context
from services.metrics.entrypoints.http.schemas import (
    ModelResponse,
    ModelVersionBody,
    RefitRequest,
    RefitResponse,
    error_responses,
)
from services.metrics.service_layer.refit import RefitRejected, refit
from shared.auth import KeyKind, require
from shared.errors import ApiError

router = APIRouter(prefix="/v1")
Context = Annotated[ApiContext, Depends(api_context)]


def version_body(v: ModelVersion) -> ModelVersionBody:
    return ModelVersionBody(
        id=v.id, model=v.model, params=v.params, log_likelihood=v.log_likelihood, n_customers=v.n_customers,
        iterations=v.iterations, converged=v.converged, as_of=v.as_of, calibration_end=v.calibration_end,
        time_unit_days=v.time_unit_days, fitted_at=v.fitted_at,
    )


@router.get(
    "/model", response_model=ModelResponse, dependencies=[Depends(require(KeyKind.READ))],
    responses=error_responses(),
)
async def current_models(context: Context) -> ModelResponse:
    async with context.engine.connect() as conn:
        versions = await latest_versions(conn)
    return ModelResponse(models={name: version_body(v) for name, v in versions.items()})


@router.post(
    "/admin/model/refit", response_model=RefitResponse, dependencies=[Depends(require(KeyKind.ADMIN))],
    responses=error_responses(409, 422),
)
async def refit_models(context: Context, request: Annotated[RefitRequest | None, Body()] = None) -> RefitResponse:
    wanted = request or RefitRequest()
    settings = context.settings
    try:
        result = await refit(
            context.engine, today=context.today(), time_unit_days=settings.time_unit_days,
            monthly_discount_rate=settings.monthly_discount_rate, margin=settings.margin,
            calibration_end=wanted.calibration_end, as_of=wanted.as_of,
        )
    except RefitRejected as exc:
        raise ApiError(409, exc.code, exc.message) from exc
    return RefitResponse(
        models={"bgnbd": version_body(result.bgnbd), "gamma_gamma": version_body(result.gamma_gamma)},
        predictions=result.predictions, fit_seconds=result.fit_seconds, seconds=result.total_seconds,
    )
