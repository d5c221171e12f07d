"""The metrics API: churn, retention, CLV, per-customer figures and the fitted models."""

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import date

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.metrics.config import MetricsSettings
from services.metrics.entrypoints.gauges import keep_gauges_fresh
from services.metrics.entrypoints.http import customers, model, reports
from services.metrics.entrypoints.http.context import ApiContext
from services.metrics.entrypoints.scheduler import refit_on_schedule
from shared.auth import KeyStore
from shared.errors import error_json, install_error_handlers
from shared.observability import instrument


def create_app(
    settings: MetricsSettings, engine: AsyncEngine, *, today: Callable[[], date], background: bool = True
) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        stop = asyncio.Event()
        tasks = []
        if background and settings.gauge_refresh_s > 0:
            tasks.append(asyncio.create_task(keep_gauges_fresh(
                engine, today=today, margin=settings.margin, every_s=settings.gauge_refresh_s, stop=stop
            )))
        if background and settings.refit_interval_s > 0:
            tasks.append(asyncio.create_task(refit_on_schedule(engine, settings, today=today, stop=stop)))
        try:
            yield
        finally:
            stop.set()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await engine.dispose()

    app = FastAPI(title="touchpoint metrics", lifespan=lifespan)
    app.state.context = ApiContext(settings=settings, engine=engine, today=today)
    app.state.keys = KeyStore(engine, ttl_s=settings.key_cache_ttl_s)
    install_error_handlers(app)
    instrument(app, "metrics")

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> JSONResponse:
        try:
            async with engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except Exception:
            return JSONResponse(error_json("database_unavailable", "The database is not reachable."), status_code=503)
        return JSONResponse({"status": "ready"})

    for router in (reports.router, customers.router, model.router):
        # flat, not include_router(): this FastAPI keeps an included router as one lazy sub-route,
        # which hides the route templates from the HTTP metrics labels and from route listings
        app.router.routes.extend(router.routes)
    return app
