"""The profile HTTP API: the single customer view, by id or identity, with timeline,
merges, list/filter, erase and export."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from services.profile.adapters.profile_queries import ping
from services.profile.config import ProfileSettings
from services.profile.entrypoints.responses import JsonResponse
from services.profile.entrypoints.routes import router
from shared.auth import KeyStore
from shared.errors import error_json, install_error_handlers
from shared.observability import instrument


def create_app(settings: ProfileSettings, engine: AsyncEngine) -> FastAPI:
    """The app over an engine the caller owns (bootstrap.build_app disposes of it on shutdown)."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await engine.dispose()

    app = FastAPI(title="touchpoint profile", version="1", lifespan=lifespan, default_response_class=JsonResponse)
    app.state.settings = settings
    app.state.engine = engine
    app.state.keys = KeyStore(engine, ttl_s=settings.key_cache_ttl_s)
    install_error_handlers(app)
    instrument(app, "profile")

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> JsonResponse:
        try:
            async with engine.connect() as conn:
                await ping(conn)
        except Exception:
            return JsonResponse(error_json("database_unavailable", "The database is not reachable."), status_code=503)
        return JsonResponse({"status": "ready"})

    app.include_router(router)
    return app
