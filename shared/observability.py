"""JSON logs, Prometheus HTTP metrics and the /metrics, /healthz endpoints every service has.

Labels never carry customer data: routes are labelled by their template, not the path.
"""

import bisect
import logging
import sys
import time
from collections.abc import Iterable
from typing import Any

import orjson
from fastapi import FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest, start_http_server
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

HTTP_REQUESTS = Counter(
    "touchpoint_http_requests_total", "HTTP requests answered.", ["service", "route", "method", "status"]
)
HTTP_LATENCY = Histogram(
    "touchpoint_http_request_duration_seconds",
    "HTTP request latency.",
    ["service", "route", "method"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)

_RESERVED = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        entry.update({k: v for k, v in record.__dict__.items() if k not in _RESERVED})
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


def configure_logging(service: str, *, level: str = "INFO", json: bool = True) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service) if json else logging.Formatter("%(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("aiokafka", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _route_template(request: Request) -> str:
    return _template_of(request.app, request.scope)


def _template_of(app: FastAPI, scope: Scope) -> str:
    handled_by = scope.get("route")  # set by the router once it matched (also inside included routers)
    if handled_by is not None and hasattr(handled_by, "path"):
        return str(handled_by.path)
    for route in app.router.routes:
        match, _ = route.matches(scope)
        if match is Match.FULL:
            return str(getattr(route, "path", "unmatched"))
    return "unmatched"


class _RequestMetrics:
    """Pure ASGI middleware: BaseHTTPMiddleware costs several times a small endpoint's own work."""

    def __init__(self, app: ASGIApp, *, owner: FastAPI, service: str) -> None:
        self.app, self.owner, self.service = app, owner, service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_noting_status)
        finally:
            route = _template_of(self.owner, scope)
            if route != "/metrics":
                method = scope["method"]
                HTTP_REQUESTS.labels(self.service, route, method, str(status)).inc()
                HTTP_LATENCY.labels(self.service, route, method).observe(time.perf_counter() - start)


def instrument(app: FastAPI, service: str) -> None:
    """Add request metrics, /metrics and /healthz to an app."""
    app.add_middleware(_RequestMetrics, owner=app, service=service)

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}


def start_metrics_server(port: int, host: str = "0.0.0.0") -> None:
    """/metrics (and any path, e.g. /healthz) for processes without an HTTP app: the consumers."""
    if port:
        start_http_server(port, addr=host)


def observe_many(histogram: Histogram, amounts: Iterable[float]) -> None:
    """`histogram.observe(a)` for every `a` of `amounts`, with one update per bucket instead of one
    per amount (each `observe` takes two locks and walks the buckets).

    `histogram` is a labelled child or an unlabelled histogram. This reaches into
    prometheus-client's bucket values (the pinned version's); a unit test holds the result
    equal to observing the amounts one by one."""
    bounds: list[float] = histogram._upper_bounds  # type: ignore[attr-defined]
    counts = [0] * len(bounds)
    total = 0.0
    for amount in amounts:
        counts[bisect.bisect_left(bounds, amount)] += 1
        total += amount
    if not any(counts):
        return
    histogram._raise_if_not_observable()  # type: ignore[attr-defined]
    histogram._sum.inc(total)  # type: ignore[attr-defined]
    for bucket, count in zip(histogram._buckets, counts, strict=True):  # type: ignore[attr-defined]
        if count:
            bucket.inc(count)

