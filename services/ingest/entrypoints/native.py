"""POST /v1/touchpoints: one event, or {"batch": [...], "sent_at"?: time} of up to 500."""

from datetime import UTC, datetime
from typing import Any

from fastapi import Request, Response
from starlette.routing import Route

from services.ingest.domain.rejections import Code
from services.ingest.entrypoints.auth import authenticate, presented_key
from services.ingest.entrypoints.body import check_media_type, parse_json, read_body
from services.ingest.entrypoints.responses import results_response
from services.ingest.entrypoints.state import state_of
from services.ingest.service_layer.intake import Api, ingest
from services.ingest.telemetry import REJECTED
from shared.errors import ApiError

_BATCH_FIELDS = frozenset({"batch", "sent_at"})


def refuse(status: int, code: Code, message: str, path: str | None = None) -> ApiError:
    REJECTED.labels(code.value).inc()
    return ApiError(status, code, message, path=path)


def batch_items(body: dict[str, Any], *, max_events: int) -> list[Any]:
    unknown = sorted(set(body) - _BATCH_FIELDS)
    if unknown:
        raise refuse(
            422, Code.UNKNOWN_FIELD, f"A batch has only batch and sent_at; {unknown[0]} is unknown.", unknown[0]
        )
    items = body["batch"]
    if not isinstance(items, list) or not items:
        raise refuse(422, Code.INVALID_FIELD, "batch must be a non-empty list of events.", "batch")
    if len(items) > max_events:
        raise refuse(
            413, Code.BATCH_TOO_LARGE, f"A batch holds at most {max_events} events; this one has {len(items)}."
        )
    sent_at = body.get("sent_at")
    if sent_at is not None:
        items = [
            {**item, "sent_at": sent_at} if isinstance(item, dict) and "sent_at" not in item else item for item in items
        ]
    return items


async def read_json(request: Request, limit: int) -> tuple[Any, int]:
    try:
        check_media_type(request)
        body = await read_body(request, limit=limit)
        return parse_json(body), len(body)
    except ApiError as refused:
        REJECTED.labels(str(refused.code)).inc()
        raise


async def post_touchpoints(request: Request) -> Response:
    state = state_of(request)
    received_at = datetime.now(UTC)
    principal = await authenticate(state.keys, presented_key(request), retry_after_s=state.retry_after_s)
    parsed, size = await read_json(request, state.max_body_bytes)
    intake = state.intake
    if isinstance(parsed, dict) and "batch" in parsed:
        items = batch_items(parsed, max_events=intake.limits.max_batch_events)
        results = await ingest(
            intake,
            items,
            api=Api.NATIVE,
            source=principal.source,
            key_id=principal.key_id,
            received_at=received_at,
            batched=True,
        )
    else:
        results = await ingest(
            intake,
            [parsed],
            api=Api.NATIVE,
            source=principal.source,
            key_id=principal.key_id,
            received_at=received_at,
            batched=False,
            single_size=size,
        )
    return results_response(results)


routes = [Route("/v1/touchpoints", post_touchpoints, methods=["POST"])]
