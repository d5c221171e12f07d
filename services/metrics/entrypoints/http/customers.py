"""GET /v1/customers/{profile_id}."""

from datetime import date
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query

from services.metrics.entrypoints.http.context import ApiContext, api_context
from services.metrics.entrypoints.http.schemas import CustomerResponse, CustomerSummary, error_responses
from services.metrics.service_layer.customer_view import CustomerUnavailable, customer_view
from shared.auth import KeyKind, require
from shared.errors import ApiError

router = APIRouter(prefix="/v1", dependencies=[Depends(require(KeyKind.READ))])


@router.get("/customers/{profile_id}", response_model=CustomerResponse, responses=error_responses(404, 422))
async def customer(
    profile_id: UUID,
    context: Annotated[ApiContext, Depends(api_context)],
    as_of: Annotated[date | None, Query(description="As seen at the end of this day (UTC); default today.")] = None,
    horizon_months: Annotated[int, Query(ge=1, le=120, description="Horizon of predictive CLV.")] = 12,
) -> CustomerResponse:
    settings = context.settings
    async with context.engine.connect() as conn:
        try:
            view = await customer_view(
                conn, profile_id, as_of=as_of or context.today(), horizon_months=horizon_months,
                policy=context.policy, time_unit_days=settings.time_unit_days,
                monthly_discount_rate=settings.monthly_discount_rate, margin=settings.margin,
            )
        except CustomerUnavailable as exc:
            raise ApiError(404, exc.code, exc.message) from exc
    f, s = view.figures, view.summary
    return CustomerResponse(
        profile_id=view.profile_id, as_of=view.as_of, state=view.state, acquired_on=f.acquired_on,
        last_purchase_on=f.last_purchase_on, lost_on=f.lost_on, cancelled_on=f.cancelled_on, segment=f.segment,
        channel=f.channel, cohort=f.cohort_month.strftime("%Y-%m") if f.cohort_month else None, orders=f.orders,
        frequency=f.frequency, recency_days=f.recency_days, repeat_spend=f.repeat_spend,
        gross_revenue=float(f.gross_revenue), refunded=float(f.refunded), cancelled_amount=float(f.cancelled_amount),
        net_revenue=float(f.net_revenue), cost=float(f.cost),
        summary=CustomerSummary(x=s.x, t_x=s.t_x, T=s.T, m_x=s.m_x, time_unit_days=view.time_unit_days) if s else None,
        horizon_months=view.horizon_months, clv=view.clv, p_alive=view.p_alive,
        expected_purchases=view.expected_purchases, model_versions=view.model_versions,
    )
