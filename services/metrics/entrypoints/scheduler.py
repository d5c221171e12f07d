"""Refits on a timer inside the API process: when the newest fit is older than
`refit_interval_s` (or there is none), refit. Replicas race harmlessly: the refit lock lets one
through and the others see a fresh fit on their next check."""

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, date, datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from services.metrics.adapters.models import latest_versions
from services.metrics.config import MetricsSettings
from services.metrics.service_layer.refit import RefitRejected, refit

log = logging.getLogger(__name__)


async def refit_due(engine: AsyncEngine, *, interval_s: float) -> bool:
    async with engine.connect() as conn:
        versions = await latest_versions(conn)
    if len(versions) < 2:
        return True
    oldest = min(v.fitted_at for v in versions.values())
    return (datetime.now(UTC) - oldest).total_seconds() >= interval_s


async def refit_on_schedule(
    engine: AsyncEngine, settings: MetricsSettings, *, today: Callable[[], date], stop: asyncio.Event
) -> None:
    while not stop.is_set():
        try:
            if await refit_due(engine, interval_s=settings.refit_interval_s):
                result = await refit(
                    engine, today=today(), time_unit_days=settings.time_unit_days,
                    monthly_discount_rate=settings.monthly_discount_rate, margin=settings.margin,
                )
                log.info(
                    "models refitted",
                    extra={"bgnbd_version": result.bgnbd.id, "predictions": result.predictions,
                           "seconds": round(result.total_seconds, 2)},
                )
        except RefitRejected as exc:
            log.info("scheduled refit skipped", extra={"code": exc.code})
        except Exception:
            log.exception("scheduled refit failed")
        try:
            await asyncio.wait_for(stop.wait(), settings.refit_check_s)
        except TimeoutError:
            pass
