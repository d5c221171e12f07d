"""The composition root: settings in, the ingest app with its producer, key store,
suppression feed and lag exporter out."""

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator

from fastapi import FastAPI

from services.ingest.adapters.kafka_publisher import KafkaPublisher
from services.ingest.adapters.suppressions import SuppressionFeed, SuppressionTable
from services.ingest.config import IngestSettings
from services.ingest.domain.rate_limit import TokenBuckets
from services.ingest.entrypoints import health, native, openapi, segment
from services.ingest.entrypoints.fast_lane import IngestApp
from services.ingest.entrypoints.responses import install_refusal_handlers
from services.ingest.entrypoints.state import IngestState
from services.ingest.service_layer.intake import Intake, Limits
from shared.auth import KeyStore
from shared.db import create_engine
from shared.errors import install_error_handlers
from shared.gc_tuning import tune_gc
from shared.lag import export_lag
from shared.observability import configure_logging, instrument


def build_app(settings: IngestSettings) -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine(settings, pool_size=min(settings.db_pool_size, 4))
        publisher = KafkaPublisher(settings)
        fingerprints: set[str] = set()
        feed = SuppressionFeed(settings, SuppressionTable(engine), fingerprints)
        intake = Intake(
            publisher=publisher,
            limits=Limits(settings.max_batch_events, settings.max_event_bytes, settings.max_properties_bytes),
            rate_limits=TokenBuckets(rate=settings.rate_limit_events_per_s, burst=settings.rate_limit_burst),
            suppressed_fingerprints=fingerprints,
        )
        app.state.ingest = IngestState(
            intake=intake,
            keys=KeyStore(engine, ttl_s=settings.key_cache_ttl_s),
            ready=publisher.ready,
            max_body_bytes=settings.max_body_bytes,
            retry_after_s=settings.retry_after_s,
        )
        stop = asyncio.Event()
        await feed.load_table()
        await publisher.start()
        tune_gc()  # what start-up built is kept for good; requests make short-lived garbage only
        tasks = [
            asyncio.create_task(publisher.watch(stop), name="broker-probe"),
            asyncio.create_task(feed.run(stop), name="suppression-feed"),
            asyncio.create_task(export_lag(settings, stop), name="lag-exporter"),
        ]
        try:
            yield
        finally:
            stop.set()
            _, pending = await asyncio.wait(tasks, timeout=settings.kafka_send_timeout_s)
            for task in pending:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await publisher.stop()
            await engine.dispose()

    app = IngestApp(service="ingest", title="touchpoint ingest", version="1", lifespan=lifespan)
    instrument(app, "ingest")
    install_error_handlers(app)
    install_refusal_handlers(app)
    # The intake routes are plain Starlette routes (they take the raw request anyway), and
    # their POSTs are served before the middleware stack (fast_lane.py).
    intake_routes = [*native.routes, *segment.routes]
    app.router.routes[:0] = intake_routes
    app.serve_directly({route.path: route.endpoint for route in intake_routes})
    app.include_router(health.router)
    app.include_router(openapi.router)
    return app


def create_app() -> FastAPI:
    """The app as uvicorn's factory builds it in each worker, from the environment."""
    settings = IngestSettings()
    configure_logging("ingest", level=settings.log_level, json=settings.log_json)
    app = build_app(settings)
    tune_garbage_collector()
    return app


def tune_garbage_collector() -> None:
    """Requests allocate many short-lived objects (a batch: thousands); with the default
    thresholds the collector runs every few hundred and rescans the long-lived modules each
    time. Freeze what exists at start and collect the young generation less often."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)
