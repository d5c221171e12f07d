"""GET /readyz: ready while broker metadata was fetched recently (liveness is /healthz)."""

from fastapi import APIRouter, Request, Response

from services.ingest.entrypoints.responses import json_response, unavailable_response
from services.ingest.entrypoints.state import state_of
from services.ingest.service_layer.ports import UnavailableReason

router = APIRouter()


@router.get("/readyz", include_in_schema=False)
async def readyz(request: Request) -> Response:
    state = state_of(request)
    if state.ready():
        return json_response({"status": "ready"}, 200)
    return unavailable_response(state.retry_after_s, UnavailableReason.BROKER_DOWN)
