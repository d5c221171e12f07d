"""The intake routes served straight from the ASGI call.

Every intake POST pays for the whole Starlette stack before its endpoint runs: the error
middleware, the exception middleware, the router testing each route in turn, the
request/response wrapper. For an endpoint whose own work is a few tens of microseconds that
stack is most of the cost of a request. `IngestApp` is the FastAPI app with one difference:
a POST to an intake path goes to its endpoint directly. The endpoint, its answers, its
refusals (through the app's own exception handlers) and the request metrics are the same
as on the ordinary path; every other request, and any other method on these paths, takes
the ordinary path.
"""

import inspect
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from fastapi import FastAPI, Request, Response
from starlette.types import Receive, Scope, Send

from shared.errors import error_json, json_error
from shared.observability import HTTP_LATENCY, HTTP_REQUESTS

log = logging.getLogger(__name__)

Endpoint = Callable[[Request], Awaitable[Response]]


class IngestApp(FastAPI):
    def __init__(self, *, service: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.service = service
        self.fast_routes: dict[str, Endpoint] = {}
        self._counters: dict[tuple[str, int], Any] = {}
        self._timers: dict[str, Any] = {}

    def serve_directly(self, routes: Mapping[str, Endpoint]) -> None:
        """POSTs to these paths skip the middleware stack and the router."""
        self.fast_routes.update(routes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            endpoint = self.fast_routes.get(scope["path"])
            if endpoint is not None:
                await self._serve(endpoint, scope, receive, send)
                return
        await super().__call__(scope, receive, send)

    async def _serve(self, endpoint: Endpoint, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        scope["app"] = self
        request = Request(scope, receive, send)
        try:
            response = await endpoint(request)
        except Exception as exc:
            response = await self._refusal(request, exc)
        await response(scope, receive, send)
        path = scope["path"]
        counter = self._counters.get((path, response.status_code))
        if counter is None:
            counter = HTTP_REQUESTS.labels(self.service, path, "POST", str(response.status_code))
            self._counters[(path, response.status_code)] = counter
        counter.inc()
        timer = self._timers.get(path)
        if timer is None:
            timer = self._timers[path] = HTTP_LATENCY.labels(self.service, path, "POST")
        timer.observe(time.perf_counter() - started)

    async def _refusal(self, request: Request, exc: Exception) -> Response:
        """The answer the app's exception handlers give `exc`; an unexpected error is a logged 500."""
        for kind in type(exc).__mro__:
            handler = self.exception_handlers.get(kind)
            if handler is not None and kind is not Exception:
                answer = handler(request, exc)
                return await answer if inspect.isawaitable(answer) else answer
        log.exception("intake request failed", extra={"path": request.url.path})
        return json_error(error_json("internal_error", "The request failed; retry it with the same event ids."), 500)
