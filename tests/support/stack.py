"""Embedded Postgres and broker for tests, started once per session, or external ones named by
TOUCHPOINT_TEST_DATABASE_URL (a server URL; databases are created on it) and
TOUCHPOINT_TEST_KAFKA_BOOTSTRAP."""

import asyncio
import os
import socket
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg

from services.devstack.broker import EmbeddedBroker
from services.devstack.postgres import EmbeddedPostgres
from shared.auth import KeyKind, create_key
from shared.db import async_url, create_engine, plain_url
from shared.kafka import ensure_topics
from shared.migrate import upgrade
from shared.settings import CommonSettings

TEMPLATE = "touchpoint_template"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class TestStack:
    __test__ = False

    server_url: str  # postgresql://user@host:port (no database)
    kafka_bootstrap: str
    pg: EmbeddedPostgres | None = None
    broker: EmbeddedBroker | None = None

    def db_url(self, database: str) -> str:
        return f"{self.server_url}/{database}"

    async def create_database(self, name: str, *, template: str | None = TEMPLATE) -> str:
        conn = await asyncpg.connect(self.db_url("postgres"))
        try:
            clause = f" TEMPLATE {template}" if template else ""
            await conn.execute(f'CREATE DATABASE "{name}"{clause}')
        finally:
            await conn.close()
        return async_url(self.db_url(name))

    def prepare_template(self) -> None:
        async def create() -> None:
            conn = await asyncpg.connect(self.db_url("postgres"))
            try:
                await conn.execute(f'DROP DATABASE IF EXISTS "{TEMPLATE}"')
                await conn.execute(f'CREATE DATABASE "{TEMPLATE}"')
            finally:
                await conn.close()

        asyncio.run(create())
        upgrade(async_url(self.db_url(TEMPLATE)))


def start_stack(work: Path) -> TestStack:
    external_db = os.environ.get("TOUCHPOINT_TEST_DATABASE_URL")
    external_kafka = os.environ.get("TOUCHPOINT_TEST_KAFKA_BOOTSTRAP")
    stack = TestStack(server_url="", kafka_bootstrap="")
    if external_db:
        server = plain_url(external_db).rstrip("/")
        stack.server_url = server.rsplit("/", 1)[0] if server.count("/") > 2 else server
    else:
        stack.pg = EmbeddedPostgres(work, port=free_port())
        stack.pg.start()
        stack.server_url = f"postgresql://postgres@127.0.0.1:{stack.pg.port}"
    if external_kafka:
        stack.kafka_bootstrap = external_kafka
    else:
        stack.broker = EmbeddedBroker(work, port=free_port())
        stack.broker.start()
        stack.kafka_bootstrap = stack.broker.bootstrap
    stack.prepare_template()
    return stack


def stop_stack(stack: TestStack) -> None:
    if stack.broker:
        stack.broker.stop()
    if stack.pg:
        stack.pg.stop("immediate")


@dataclass
class Env:
    """One isolated environment: its own database and topic names, and a key of each kind."""

    settings: CommonSettings
    keys: dict[KeyKind, str] = field(default_factory=dict)

    @property
    def os_env(self) -> dict[str, str]:
        s = self.settings
        return {
            "TOUCHPOINT_DATABASE_URL": s.database_url,
            "TOUCHPOINT_KAFKA_BOOTSTRAP": s.kafka_bootstrap,
            "TOUCHPOINT_KAFKA_IDEMPOTENCE": "true" if s.kafka_idempotence else "false",
            "TOUCHPOINT_TOPIC_PREFIX": s.topic_prefix,
            "TOUCHPOINT_LOG_JSON": "true",
        }


async def new_env(stack: TestStack, *, kafka_bootstrap: str | None = None) -> Env:
    name = "t_" + uuid.uuid4().hex[:12]
    database_url = await stack.create_database(name)
    settings = CommonSettings(
        database_url=database_url,
        kafka_bootstrap=kafka_bootstrap or stack.kafka_bootstrap,
        kafka_idempotence=os.environ.get("TOUCHPOINT_TEST_KAFKA_IDEMPOTENCE", "false") == "true",
        topic_prefix=name + ".",
        kafka_partitions=4,
        key_cache_ttl_s=0.5,
    )
    await ensure_topics(settings)
    env = Env(settings)
    engine = create_engine(settings, pool_size=1)
    try:
        for kind in KeyKind:
            env.keys[kind] = (await create_key(engine, kind=kind, source="test")).key
    finally:
        await engine.dispose()
    return env
