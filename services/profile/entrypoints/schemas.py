"""The declared shapes of the profile API's bodies (OpenAPI). The routes render their bodies
with orjson (entrypoints/views.py); these models describe exactly what those views build,
and the API tests validate real responses against them."""

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from services.profile.domain.lifecycle import Stage
from shared.errors import ErrorResponse


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the error bodies a route answers with (401 and 403 on every route,
    422 for a malformed parameter)."""
    return {status: {"model": ErrorResponse} for status in sorted({401, 403, 422, *statuses})}


class Body(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class TouchpointCounts(Body):
    total: int
    by_phase: dict[str, int]
    by_channel: dict[str, int]
    by_initiator: dict[str, int]
    by_type: dict[str, int]


class OrdersView(Body):
    count: int
    gross_revenue: str  # decimal string
    refunded: str
    cancelled: str
    net_revenue: str
    average_order_value: str
    categories: list[str]
    products: list[str]
    first_purchase_at: datetime | None
    last_purchase_at: datetime | None
    purchase_months: int


class CostToServe(Body):
    amount: str
    agent_minutes: str
    touchpoints: int


class NpsView(Body):
    count: int
    sum: int
    average: float | None
    last: int | None
    last_at: datetime | None
    promoters: int
    detractors: int


class ReviewsView(Body):
    count: int
    ratings: int
    average_rating: float | None


class ProfileSummary(Body):
    id: UUID
    customer_id: str | None
    stage: Stage
    at_risk: bool
    churned: bool
    segment: str | None
    acquisition_channel: str | None
    first_seen: datetime | None
    last_seen: datetime | None
    traits: dict[str, Any]
    consent: dict[str, bool]
    touchpoints: TouchpointCounts
    orders: OrdersView
    cost_to_serve: CostToServe
    nps: NpsView
    reviews: ReviewsView
    referrals: int


class IdentityView(Body):
    kind: str
    value: str


class MergeView(Body):
    survivor_id: UUID
    merged_id: UUID
    reason: str
    event_key: str
    occurred_at: datetime
    merged_at: datetime


class ConflictView(Body):
    kind: str
    value: str
    held_by: UUID
    event_profile_id: UUID
    event_key: str
    occurred_at: datetime
    detected_at: datetime


class ProfileBody(ProfileSummary):
    identities: list[IdentityView]
    merges: list[MergeView]
    identity_conflicts: list[ConflictView]
    merged_from: UUID | None = None  # set when the id asked for was merged into this profile


class ProfilePage(Body):
    items: list[ProfileSummary]
    next_cursor: str | None


class TimelineItem(Body):
    occurred_at: datetime
    event_key: str
    touchpoint: dict[str, Any]  # the stored shared.events.Touchpoint JSON


class TimelinePage(Body):
    profile_id: UUID
    items: list[TimelineItem]
    next_cursor: str | None


class MergeHistory(Body):
    profile_id: UUID
    merges: list[MergeView]


class ErasureReport(Body):
    erased: UUID
    profiles: int
    identities: int
    touchpoints: int
    suppressions: int


class ExportBody(Body):
    profile: ProfileBody
    touchpoints: list[TimelineItem]
