"""Intake POSTs skip the middleware stack, yet answer, refuse and count exactly as the ordinary path."""

import httpx
import pytest
from fastapi import Request, Response
from prometheus_client import REGISTRY
from starlette.routing import Route

from services.ingest.entrypoints.fast_lane import IngestApp
from shared.errors import ApiError, install_error_handlers
from shared.observability import instrument


async def accept(request: Request) -> Response:
    body = await request.body()
    return Response(b'{"got":%d}' % len(body), status_code=202, media_type="application/json")


async def refuse(_: Request) -> Response:
    raise ApiError(422, "invalid_field", "no.", path="x", headers={"X-Why": "test"})


async def crash(_: Request) -> Response:
    raise RuntimeError("boom")


def app_with_lane() -> IngestApp:
    app = IngestApp(service="lane-test")
    instrument(app, "lane-test")
    install_error_handlers(app)
    routes = [
        Route("/lane/accept", accept, methods=["POST"]),
        Route("/lane/refuse", refuse, methods=["POST"]),
        Route("/lane/crash", crash, methods=["POST"]),
    ]
    app.router.routes[:0] = routes
    app.serve_directly({r.path: r.endpoint for r in routes})
    return app


def requests_counted(route: str, status: str) -> float:
    value = REGISTRY.get_sample_value(
        "touchpoint_http_requests_total", {"service": "lane-test", "route": route, "method": "POST", "status": status}
    )
    return value or 0.0


@pytest.mark.asyncio
async def test_a_direct_post_is_answered_by_its_endpoint_and_counted() -> None:
    app = app_with_lane()
    before = requests_counted("/lane/accept", "202")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        answer = await client.post("/lane/accept", content=b"12345")
    assert (answer.status_code, answer.json()) == (202, {"got": 5})
    assert requests_counted("/lane/accept", "202") == before + 1


@pytest.mark.asyncio
async def test_refusals_go_through_the_apps_own_exception_handlers() -> None:
    app = app_with_lane()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        answer = await client.post("/lane/refuse")
    assert answer.status_code == 422
    assert answer.headers["x-why"] == "test"
    assert answer.json() == {"error": {"code": "invalid_field", "message": "no.", "path": "x"}}
    assert requests_counted("/lane/refuse", "422") >= 1


@pytest.mark.asyncio
async def test_an_unexpected_error_is_a_500_with_a_code_not_a_dropped_connection() -> None:
    app = app_with_lane()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        answer = await client.post("/lane/crash")
    assert answer.status_code == 500
    assert answer.json()["error"]["code"] == "internal_error"
    assert requests_counted("/lane/crash", "500") >= 1


@pytest.mark.asyncio
async def test_other_methods_on_a_direct_path_take_the_ordinary_route() -> None:
    app = app_with_lane()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        wrong_method = await client.get("/lane/accept")
        health = await client.get("/healthz")
    assert wrong_method.status_code == 405
    assert health.status_code == 200
