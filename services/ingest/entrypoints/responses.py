"""JSON answers, and the refusals that are not per item: rate limits and unavailability."""

import math
from collections.abc import Sequence
from typing import Any

import orjson
from fastapi import FastAPI, Request, Response

from services.ingest.domain.rejections import Code
from services.ingest.domain.results import ItemResult, status_of, summary
from services.ingest.entrypoints.state import state_of
from services.ingest.service_layer.ports import RateLimited, Unavailable, UnavailableReason
from shared.errors import error_json

_UNAVAILABLE_MESSAGES = {
    UnavailableReason.BROKER_DOWN: "The event log is unreachable; nothing was accepted. Retry later.",
    UnavailableReason.OVERLOADED: "Too many events are awaiting the event log; nothing was accepted. Retry later.",
    UnavailableReason.TIMEOUT: "The event log did not acknowledge in time; nothing was accepted. Retry later.",
}


_JSON = (b"content-type", b"application/json")


class JsonAnswer(Response):
    """A JSON response with its two headers built directly: Response.__init__'s generic header
    handling costs more than the rest of answering a single event's verdict."""

    def __init__(self, body: bytes, status: int) -> None:
        self.status_code, self.body, self.background = status, body, None
        self.raw_headers = [(b"content-length", b"%d" % len(body)), _JSON]


def json_response(body: Any, status: int, headers: dict[str, str] | None = None) -> Response:
    if headers is None:
        return JsonAnswer(orjson.dumps(body), status)
    return Response(orjson.dumps(body), status_code=status, media_type="application/json", headers=headers)


def results_response(results: Sequence[ItemResult]) -> Response:
    return json_response(summary(results), status_of(results))


def unavailable_response(retry_after_s: int, reason: UnavailableReason) -> Response:
    return json_response(
        error_json(Code.UNAVAILABLE.value, _UNAVAILABLE_MESSAGES[reason]), 503, {"Retry-After": str(retry_after_s)}
    )


def install_refusal_handlers(app: FastAPI) -> None:
    @app.exception_handler(Unavailable)
    async def unavailable(request: Request, exc: Unavailable) -> Response:
        return unavailable_response(state_of(request).retry_after_s, exc.reason)

    @app.exception_handler(RateLimited)
    async def rate_limited(_: Request, exc: RateLimited) -> Response:
        seconds = max(1, math.ceil(exc.retry_after_s))
        return json_response(
            error_json(Code.RATE_LIMITED.value, f"This write key is over its event rate; retry in {seconds} s."),
            429,
            {"Retry-After": str(seconds)},
        )
