"""HTTP routes of the profile API. Read key for GET, admin key for erase and export.

A merged-away profile id answers 200 with the surviving profile and `merged_from` set to
the id that was asked for (rather than a redirect), so that clients holding old ids keep
working with one round trip.
"""

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request

from services.profile.adapters import profile_queries as queries
from services.profile.config import ProfileSettings
from services.profile.domain.identity import IdentityPair, normalized_pair
from services.profile.entrypoints.cursors import list_cursor, read_list_cursor, read_timeline_cursor, timeline_cursor
from services.profile.entrypoints.responses import JsonResponse
from services.profile.entrypoints.schemas import (
    ErasureReport,
    ExportBody,
    MergeHistory,
    ProfileBody,
    ProfilePage,
    TimelinePage,
    error_responses,
)
from services.profile.entrypoints.views import profile_view, summary_view, timeline_view
from services.profile.service_layer.erasure import erase_profile
from shared.auth import KeyKind, Principal, require
from shared.errors import ApiError

router = APIRouter(prefix="/v1/profiles")
Reader = Annotated[Principal, Depends(require(KeyKind.READ))]
Admin = Annotated[Principal, Depends(require(KeyKind.ADMIN))]
IDENTITY_PARAMS = ("customer_id", "email", "phone", "anonymous_id", "external")
IdentityQuery = Annotated[str | None, Query(include_in_schema=False)]


def _not_found(profile_id: UUID) -> ApiError:
    return ApiError(404, "profile_not_found", f"No profile {profile_id}.")


def _settings(request: Request) -> ProfileSettings:
    settings: ProfileSettings = request.app.state.settings
    return settings


def _limit(request: Request, limit: int | None, default: int = 50) -> int:
    """The page size asked for (at least 1, checked by the parameter), capped by settings."""
    return min(limit or default, _settings(request).page_size_max)


def _lookup_pair(params: dict[str, str]) -> IdentityPair:
    given = [(k, v) for k, v in params.items() if k in IDENTITY_PARAMS]
    if len(given) > 1:
        raise ApiError(422, "ambiguous_lookup", "Look a profile up by one identity at a time.")
    kind, value = given[0]
    if kind == "external":
        name, sep, value = value.partition(":")
        if not sep or not name:
            raise ApiError(422, "invalid_identity", "external takes name:value, e.g. crm:4711.", path="external")
        kind = f"external:{name}"
    pair = normalized_pair(kind, value)
    if pair is None:
        raise ApiError(422, "junk_identity", "That identity value never links a profile (empty or junk).", path=kind)
    return pair


@router.get("/{profile_id}", response_model=ProfileBody, responses=error_responses(404))
async def get_profile(request: Request, profile_id: UUID, _: Reader) -> JsonResponse:
    async with request.app.state.engine.connect() as conn:
        stored = await queries.profile_by_id(conn, profile_id)
    if stored is None:
        raise _not_found(profile_id)
    now = datetime.now(UTC)
    return JsonResponse(profile_view(stored, _settings(request).lifecycle, as_of=now, requested=profile_id))


@router.get("", response_model=ProfilePage | ProfileBody, responses=error_responses(404))
async def find_profiles(
    request: Request,
    _: Reader,
    stage: str | None = None,
    segment: str | None = None,
    at_risk: bool | None = None,
    churned: bool | None = None,
    limit: Annotated[int | None, Query(ge=1)] = None,
    cursor: str | None = None,
    customer_id: IdentityQuery = None,
    email: IdentityQuery = None,
    phone: IdentityQuery = None,
    anonymous_id: IdentityQuery = None,
    external: IdentityQuery = None,
) -> JsonResponse:
    """By identity (one of ?email=, ?customer_id=, ?anonymous_id=, ?phone=, ?external=name:value):
    the profile, 404 `profile_not_found` when no profile holds it, 422 `ambiguous_lookup` for
    more than one identity, `junk_identity` for a value that never links, `invalid_identity`
    for an external id without `name:`. Otherwise a page of profiles filtered by stage,
    segment, at_risk, churned.

    The identity parameters are described here rather than as OpenAPI parameters: only one may
    be given and junk values are refused, which a parameter list cannot say."""
    identity = {"customer_id": customer_id, "email": email, "phone": phone, "anonymous_id": anonymous_id,
                "external": external}
    settings = _settings(request)
    now = datetime.now(UTC)
    if any(value is not None for value in identity.values()):
        pair = _lookup_pair({kind: value for kind, value in identity.items() if value is not None})
        async with request.app.state.engine.connect() as conn:
            stored = await queries.profile_by_identity(conn, pair)
        if stored is None:
            raise ApiError(404, "profile_not_found", f"No profile holds that {pair[0]}.")
        return JsonResponse(profile_view(stored, settings.lifecycle, as_of=now))
    size = _limit(request, limit)
    rules = settings.lifecycle
    async with request.app.state.engine.connect() as conn:
        rows = await queries.list_profiles(
            conn,
            queries.ListFilter(stage=stage, segment=segment, at_risk=at_risk, churned=churned),
            risk_before=now - timedelta(days=rules.at_risk_days),
            churn_before=now - timedelta(days=rules.churn_days),
            limit=size + 1,
            after=read_list_cursor(cursor) if cursor else None,
        )
    page = rows[:size]
    body: dict[str, Any] = {
        "items": [summary_view(r.id, r.profile, rules, as_of=now) for r in page],
        "next_cursor": list_cursor(page[-1].id) if len(rows) > size else None,
    }
    return JsonResponse(body)


@router.get("/{profile_id}/touchpoints", response_model=TimelinePage, responses=error_responses(404))
async def get_timeline(
    request: Request,
    profile_id: UUID,
    _: Reader,
    limit: Annotated[int | None, Query(ge=1)] = None,
    cursor: str | None = None,
) -> JsonResponse:
    size = _limit(request, limit)
    before = read_timeline_cursor(cursor) if cursor else None
    async with request.app.state.engine.connect() as conn:
        live = await queries.live_id(conn, profile_id)
        if live is None:
            raise _not_found(profile_id)
        entries = await queries.timeline(conn, live, limit=size + 1, before=before)
    page = entries[:size]
    more = len(entries) > size
    return JsonResponse(
        {
            "profile_id": str(live),
            "items": [timeline_view(e) for e in page],
            "next_cursor": timeline_cursor(page[-1].occurred_at, page[-1].event_key) if more else None,
        }
    )


@router.get("/{profile_id}/merges", response_model=MergeHistory, responses=error_responses(404))
async def get_merges(request: Request, profile_id: UUID, _: Reader) -> JsonResponse:
    async with request.app.state.engine.connect() as conn:
        stored = await queries.profile_by_id(conn, profile_id)
    if stored is None:
        raise _not_found(profile_id)
    return JsonResponse({"profile_id": str(stored.id), "merges": stored.merges})


@router.delete("/{profile_id}", response_model=ErasureReport, responses=error_responses(404))
async def erase(request: Request, profile_id: UUID, _: Admin) -> JsonResponse:
    settings = _settings(request)
    erased = await erase_profile(
        request.app.state.engine, profile_id, topics=settings.topics, now=datetime.now(UTC)
    )
    if erased is None:
        raise _not_found(profile_id)
    return JsonResponse(
        {
            "erased": str(erased.profile_id),
            "profiles": erased.profiles,
            "identities": erased.identities,
            "touchpoints": erased.timeline,
            "suppressions": erased.suppressions,
        }
    )


@router.get("/{profile_id}/export", response_model=ExportBody, responses=error_responses(404))
async def export(request: Request, profile_id: UUID, _: Admin) -> JsonResponse:
    async with request.app.state.engine.connect() as conn:
        stored = await queries.profile_by_id(conn, profile_id)
        if stored is None:
            raise _not_found(profile_id)
        entries = await queries.timeline(conn, stored.id, limit=None, before=None)
    view = profile_view(stored, _settings(request).lifecycle, as_of=datetime.now(UTC), requested=profile_id)
    return JsonResponse({"profile": view, "touchpoints": [timeline_view(e) for e in entries]})
