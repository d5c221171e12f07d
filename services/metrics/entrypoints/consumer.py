"""`touchpoint metrics consume`: fold customers.v1 until SIGTERM / SIGINT."""

import asyncio
import logging
import signal

from services.metrics.bootstrap import build_consumer
from services.metrics.config import MetricsSettings
from shared.db import create_engine
from shared.observability import configure_logging, start_metrics_server

log = logging.getLogger(__name__)


async def consume(settings: MetricsSettings) -> None:
    engine = create_engine(settings, pool_size=2)
    member = build_consumer(settings, engine)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, member.stop)
    await member.producer.start()
    member.consumer.subscribe([member.topic], listener=member.listener())
    await member.consumer.start()
    log.info("metrics consumer started", extra={"topic": member.topic, "group": member.group})
    try:
        await member.run()
    finally:
        await member.consumer.stop()
        await member.producer.stop()
        await engine.dispose()


def run_consumer(settings: MetricsSettings) -> int:
    configure_logging("metrics-consumer", level=settings.log_level, json=settings.log_json)
    start_metrics_server(settings.metrics_port)
    asyncio.run(consume(settings))
    return 0
