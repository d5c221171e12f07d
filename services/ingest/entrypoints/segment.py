"""The Segment HTTP Tracking API: /v1/identify, track, page, screen, group, alias, batch
(and /v1/import, an alias of batch). Answers 200 {"success": true} when every message was
accepted; otherwise the native per-item results (207 or 422)."""

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from fastapi import Request, Response
from starlette.routing import Route

from services.ingest.domain.rejections import Code
from services.ingest.domain.results import ItemResult, Outcome
from services.ingest.entrypoints.auth import authenticate, presented_key
from services.ingest.entrypoints.native import read_json, refuse
from services.ingest.entrypoints.responses import results_response
from services.ingest.entrypoints.state import IngestState, state_of
from services.ingest.service_layer.intake import Api, SegmentFrame, ingest
from shared.auth import Principal

_SUCCESS = b'{"success":true}'


async def _principal_and_body(request: Request, state: IngestState) -> tuple[Principal, Any, int]:
    raw_key = presented_key(request)
    if raw_key is not None:
        principal = await authenticate(state.keys, raw_key, retry_after_s=state.retry_after_s)
        parsed, size = await read_json(request, state.max_body_bytes)
        return principal, parsed, size
    parsed, size = await read_json(request, state.max_body_bytes)
    body_key = parsed.get("writeKey") if isinstance(parsed, dict) else None
    principal = await authenticate(
        state.keys, body_key if isinstance(body_key, str) else None, retry_after_s=state.retry_after_s
    )
    return principal, parsed, size


def _answer(results: list[ItemResult]) -> Response:
    if all(r.outcome is not Outcome.REJECTED for r in results):
        return Response(_SUCCESS, status_code=200, media_type="application/json")
    return results_response(results)


async def _single(request: Request, call: str) -> Response:
    state = state_of(request)
    received_at = datetime.now(UTC)
    principal, parsed, size = await _principal_and_body(request, state)
    results = await ingest(
        state.intake,
        [parsed],
        api=Api.SEGMENT,
        source=principal.source,
        key_id=principal.key_id,
        received_at=received_at,
        batched=False,
        single_size=size,
        frame=SegmentFrame(call=call),
    )
    return _answer(results)


async def _batch(request: Request) -> Response:
    state = state_of(request)
    received_at = datetime.now(UTC)
    principal, parsed, _ = await _principal_and_body(request, state)
    if not isinstance(parsed, dict) or not isinstance(parsed.get("batch"), list) or not parsed["batch"]:
        raise refuse(422, Code.INVALID_FIELD, "The body must be an object with a non-empty batch list.", "batch")
    items = parsed["batch"]
    limit = state.intake.limits.max_batch_events
    if len(items) > limit:
        raise refuse(413, Code.BATCH_TOO_LARGE, f"A batch holds at most {limit} messages; this one has {len(items)}.")
    frame = SegmentFrame(sent_at=parsed.get("sentAt"), context=parsed.get("context"))
    results = await ingest(
        state.intake,
        items,
        api=Api.SEGMENT,
        source=principal.source,
        key_id=principal.key_id,
        received_at=received_at,
        batched=True,
        frame=frame,
    )
    return _answer(results)


def _call(call: str) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        return await _single(request, call)

    endpoint.__name__ = call
    return endpoint


routes = [
    *(
        Route(f"/v1/{call}", _call(call), methods=["POST"])
        for call in ("identify", "track", "page", "screen", "group", "alias")
    ),
    Route("/v1/batch", _batch, methods=["POST"]),
    Route("/v1/import", _batch, methods=["POST"]),
]
