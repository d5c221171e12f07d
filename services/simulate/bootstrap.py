"""The composition root of `touchpoint simulate`."""

from collections.abc import Sequence

from services.simulate.adapters.broken_producer import produce_poison
from services.simulate.adapters.ingest_client import IngestClient
from services.simulate.adapters.ledger_file import LedgerFile
from services.simulate.config import SimulateOptions, require_loopback
from services.simulate.domain.poison import PoisonRecord
from services.simulate.domain.scenario import Scenario
from services.simulate.service_layer.generator import Generator, ProducePoison, Progress
from shared.auth import split_key
from shared.settings import CommonSettings


def source_key_of(write_key: str) -> str:
    parts = split_key(write_key)
    return f"key:{parts[0]}" if parts else "key:unknown"


def build_generator(options: SimulateOptions, *, progress: Progress | None = None) -> Generator:
    require_loopback(options.ingest_url)
    poisoner: ProducePoison | None = None
    if options.poison and options.kafka_bootstrap:
        require_loopback(options.kafka_bootstrap)
        settings = CommonSettings(
            kafka_bootstrap=options.kafka_bootstrap, kafka_idempotence=False, topic_prefix=options.topic_prefix
        )

        async def poisoner(records: Sequence[PoisonRecord]) -> None:
            await produce_poison(settings, records)

    return Generator(
        scenario=Scenario(seed=options.seed, customers=options.customers, run=options.run),
        client=IngestClient(base_url=options.ingest_url, write_key=options.write_key,
                            concurrency=options.concurrency * 2),
        ledger=LedgerFile(options.ledger_path),
        source_key=source_key_of(options.write_key),
        rate=options.rate,
        duration_s=options.duration_s,
        concurrency=options.concurrency,
        retry_grace_s=options.retry_grace_s,
        poison_count=options.poison if poisoner else 0,
        produce_poison=poisoner,
        progress=progress,
    )


async def close_generator(generator: Generator) -> None:
    await generator.client.close()
    generator.ledger.close()
