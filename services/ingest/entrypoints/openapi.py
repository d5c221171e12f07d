"""The intake routes in the OpenAPI document.

They are served by plain Starlette routes (entrypoints.native and entrypoints.segment) placed
ahead of FastAPI's routing, so FastAPI knows them only through the declarations below, which
describe the same requests and answers for clients and schema-driven tests. The declared
endpoints never receive a request: the plain routes match first.
"""

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends
from fastapi.security import HTTPBearer
from pydantic import BaseModel

from services.ingest.schemas import EventIn
from shared.errors import ErrorBody, ErrorResponse

SEGMENT_CALLS = ("identify", "track", "page", "screen", "group", "alias")


class BatchIn(BaseModel):
    batch: list[EventIn]


class ItemVerdict(BaseModel):
    index: int
    id: str | None
    status: Literal["accepted", "duplicate", "rejected"]
    error: ErrorBody | None = None


class Verdicts(BaseModel):
    accepted: int
    duplicates: int
    rejected: int
    results: list[ItemVerdict]


class SegmentSuccess(BaseModel):
    success: bool


def _refusals(*codes: int) -> dict[int | str, dict[str, Any]]:
    sentences = {
        400: "Malformed JSON (the message says where).",
        401: "No valid write key.",
        403: "The key is not a write key.",
        413: "Body or batch over its limit.",
        415: "Not application/json.",
        429: "This key is over its rate; see Retry-After.",
        503: "The event log is unreachable or slow; nothing was accepted; see Retry-After.",
    }
    return {code: {"model": ErrorResponse, "description": sentences[code]} for code in codes}


_REFUSED = _refusals(400, 401, 403, 413, 415, 429, 503)
_VERDICTS: dict[int | str, dict[str, Any]] = {
    202: {"model": Verdicts, "description": "Every item accepted (or a duplicate within the batch)."},
    207: {"model": Verdicts, "description": "Some items rejected; the accepted ones are durable."},
    422: {"model": Verdicts | ErrorResponse, "description": "Every item rejected."},
}

router = APIRouter(dependencies=[Depends(HTTPBearer(auto_error=False))], tags=["intake"])


async def _native(body: Annotated[EventIn | BatchIn, Body()]) -> None:
    raise RuntimeError("served by the plain intake route")


async def _segment(body: Annotated[dict[str, Any], Body()]) -> None:
    raise RuntimeError("served by the plain intake route")


router.add_api_route(
    "/v1/touchpoints", _native, methods=["POST"], status_code=202, response_model=None,
    responses={**_VERDICTS, **_REFUSED}, summary="Send one touchpoint or a batch",
)
for call in (*SEGMENT_CALLS, "batch", "import"):
    router.add_api_route(
        f"/v1/{call}", _segment, methods=["POST"], status_code=200, response_model=None,
        responses={200: {"model": SegmentSuccess, "description": "Segment-compatible success."},
                   207: _VERDICTS[207], 422: _VERDICTS[422], **_REFUSED},
        summary=f"Segment {call}",
    )
