"""The composition root of `touchpoint chaos`: the dev stack, its settings, and the
generators pointed at it."""

import uuid
from pathlib import Path

from services.chaos.adapters.database import StackDatabase
from services.chaos.adapters.devstack import DevStack, StackPorts
from services.simulate.bootstrap import build_generator
from services.simulate.config import SimulateOptions
from services.simulate.service_layer.generator import Generator
from shared.settings import CommonSettings

StackInfo = dict[str, object]


def build_stack(data_dir: Path) -> DevStack:
    return DevStack(data_dir.resolve(), StackPorts.free())


def stack_settings(info: StackInfo) -> CommonSettings:
    return CommonSettings(database_url=str(info["database_url"]), kafka_bootstrap=str(info["kafka_bootstrap"]),
                          kafka_idempotence=False)


def stack_database(info: StackInfo) -> StackDatabase:
    return StackDatabase(str(info["database_url"]))


def stack_env(info: StackInfo) -> dict[str, str]:
    """The environment a `touchpoint` command needs to work on this stack."""
    return {"TOUCHPOINT_DATABASE_URL": str(info["database_url"]),
            "TOUCHPOINT_KAFKA_BOOTSTRAP": str(info["kafka_bootstrap"]), "TOUCHPOINT_KAFKA_IDEMPOTENCE": "false"}


def stack_generator(
    info: StackInfo, *, ledger: Path, rate: float, duration_s: float, customers: int, seed: int, label: str,
    poison: int = 0, concurrency: int = 4,
) -> Generator:
    """A generator on the stack's public ingest API; ids are unique to this run (`label` + random)."""
    return build_generator(SimulateOptions(
        ingest_url=str(info["ingest_url"]), write_key=str(info["write_key"]), ledger_path=ledger, rate=rate,
        duration_s=duration_s, customers=customers, seed=seed, poison=poison, run=f"{label}-{uuid.uuid4().hex[:6]}",
        kafka_bootstrap=str(info["kafka_bootstrap"]), retry_grace_s=180.0, concurrency=concurrency,
    ))
