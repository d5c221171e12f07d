"""A simulated broken producer: writes raw records straight to the touchpoints topic."""

import asyncio
from collections.abc import Sequence

from services.simulate.domain.poison import PoisonRecord
from shared.kafka import create_producer
from shared.settings import CommonSettings


async def produce_poison(settings: CommonSettings, records: Sequence[PoisonRecord]) -> None:
    producer = create_producer(settings)
    await producer.start()
    try:
        futures = [
            await producer.send(settings.topics.touchpoints, r.value, key=r.key, headers=r.headers) for r in records
        ]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
