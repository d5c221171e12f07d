"""`touchpoint dev`: embedded Postgres and broker, migrations, topics, dev keys, then every
service as its own supervised process. SIGINT/SIGTERM stops the children, then the parts."""

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import text

from services.devstack.broker import EmbeddedBroker
from services.devstack.postgres import EmbeddedPostgres
from shared.auth import KeyKind, create_key, split_key
from shared.db import async_url, create_engine
from shared.kafka import ensure_topics
from shared.migrate import upgrade
from shared.settings import CommonSettings


class DevSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TOUCHPOINT_DEV_", extra="ignore")

    data_dir: Path = Field(default=Path(".touchpoint"), description="Where the dev stack keeps its data and logs.")
    pg_port: int = Field(default=54329, description="Port of the embedded Postgres.")
    kafka_port: int = Field(default=19092, description="Port of the embedded broker.")
    ingest_port: int = Field(default=8001, description="Port of the ingest service.")
    profile_port: int = Field(default=8002, description="Port of the profile API.")
    metrics_port: int = Field(default=8003, description="Port of the metrics API.")
    profile_consumer_metrics_port: int = Field(default=9102, description="/metrics of the profile consumer.")
    metrics_consumer_metrics_port: int = Field(default=9103, description="/metrics of the metrics consumer.")
    host: str = Field(default="127.0.0.1", description="Address the services listen on.")


@dataclass
class Child:
    name: str
    args: list[str]
    health_url: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    started_at: float = field(default=0.0)


def service_children(dev: DevSettings) -> list[Child]:
    h = dev.host
    return [
        Child("ingest", ["ingest", "serve", "--host", h, "--port", str(dev.ingest_port)],
              f"http://{h}:{dev.ingest_port}/healthz"),
        Child("profile-api", ["profile", "serve", "--host", h, "--port", str(dev.profile_port)],
              f"http://{h}:{dev.profile_port}/healthz"),
        Child("profile-consumer", ["profile", "consume"], f"http://{h}:{dev.profile_consumer_metrics_port}/metrics",
              {"TOUCHPOINT_METRICS_PORT": str(dev.profile_consumer_metrics_port)}),
        Child("metrics-api", ["metrics", "serve", "--host", h, "--port", str(dev.metrics_port)],
              f"http://{h}:{dev.metrics_port}/healthz"),
        Child("metrics-consumer", ["metrics", "consume"], f"http://{h}:{dev.metrics_consumer_metrics_port}/metrics",
              {"TOUCHPOINT_METRICS_PORT": str(dev.metrics_consumer_metrics_port)}),
    ]


async def _dev_keys(settings: CommonSettings, path: Path) -> dict[str, str]:
    engine = create_engine(settings, pool_size=1)
    try:
        keys: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
        valid: dict[str, str] = {}
        async with engine.connect() as conn:
            for name, key in keys.items():
                parts = split_key(key)
                if parts and (
                    await conn.execute(
                        text("SELECT 1 FROM auth.api_keys WHERE key_id = :i AND revoked_at IS NULL"), {"i": parts[0]}
                    )
                ).first():
                    valid[name] = key
        for kind in KeyKind:
            name = f"{kind.value}_key"
            if name not in valid:
                valid[name] = (await create_key(engine, kind=kind, source="dev")).key
        path.write_text(json.dumps(valid, indent=2))
        return valid
    finally:
        await engine.dispose()


def prepare(dev: DevSettings) -> tuple[EmbeddedPostgres, EmbeddedBroker, dict[str, str]]:
    """Start the embedded parts, migrate, create topics and keys; return the env for the services."""
    data = dev.data_dir.resolve()
    (data / "logs").mkdir(parents=True, exist_ok=True)
    pg = EmbeddedPostgres(data, port=dev.pg_port, host=dev.host)
    pg.start()
    pg.create_database("touchpoint")
    database_url = async_url(pg.url("touchpoint"))
    broker = EmbeddedBroker(data, port=dev.kafka_port, host=dev.host)
    broker.start()
    env = {
        "TOUCHPOINT_DATABASE_URL": database_url,
        "TOUCHPOINT_KAFKA_BOOTSTRAP": broker.bootstrap,
        "TOUCHPOINT_KAFKA_IDEMPOTENCE": "false",
    }
    upgrade(database_url)
    settings = CommonSettings(database_url=database_url, kafka_bootstrap=broker.bootstrap, kafka_idempotence=False)
    asyncio.run(ensure_topics(settings))
    keys = asyncio.run(_dev_keys(settings, data / "keys.json"))
    return pg, broker, {**env, **{k.upper(): v for k, v in keys.items()}}


class Supervisor:
    def __init__(self, dev: DevSettings, env: dict[str, str], children: list[Child]) -> None:
        self.dev, self.env, self.children = dev, env, children
        self.logs = dev.data_dir.resolve() / "logs"
        self.stopping = False

    def spawn(self, child: Child) -> None:
        log = open(self.logs / f"{child.name}.log", "ab")
        child.process = subprocess.Popen(
            [sys.executable, "-m", "services.cli", *child.args],
            env={**os.environ, **self.env, **child.env}, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        child.started_at = time.monotonic()

    def pids(self) -> dict[str, int]:
        return {c.name: c.process.pid for c in self.children if c.process}

    def wait_healthy(self, timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        for child in self.children:
            while child.health_url:
                try:
                    if httpx.get(child.health_url, timeout=1.0).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if child.process and child.process.poll() is not None:
                    raise RuntimeError(f"{child.name} exited; see {self.logs / (child.name + '.log')}")
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{child.name} not healthy after {timeout_s}s")
                time.sleep(0.2)

    def watch_once(self) -> bool:
        """Restart children that died on their own; True when one was restarted."""
        restarted = False
        for child in self.children:
            if child.process and child.process.poll() is not None and not self.stopping:
                child.restarts += 1
                time.sleep(min(5.0, 0.5 * child.restarts) if time.monotonic() - child.started_at < 5 else 0.2)
                self.spawn(child)
                restarted = True
        return restarted

    def stop_all(self) -> None:
        self.stopping = True
        for child in self.children:
            if child.process and child.process.poll() is None:
                child.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for child in self.children:
            if child.process:
                try:
                    child.process.wait(max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    child.process.kill()
                    child.process.wait()


def write_stack_file(dev: DevSettings, env: dict[str, str], pids: dict[str, int]) -> Path:
    h = dev.host
    info = {
        "ingest_url": f"http://{h}:{dev.ingest_port}",
        "profile_url": f"http://{h}:{dev.profile_port}",
        "metrics_url": f"http://{h}:{dev.metrics_port}",
        "kafka_bootstrap": env["TOUCHPOINT_KAFKA_BOOTSTRAP"],
        "database_url": env["TOUCHPOINT_DATABASE_URL"],
        "write_key": env["WRITE_KEY"],
        "read_key": env["READ_KEY"],
        "admin_key": env["ADMIN_KEY"],
        "profile_consumer_metrics_url": f"http://{h}:{dev.profile_consumer_metrics_port}/metrics",
        "metrics_consumer_metrics_url": f"http://{h}:{dev.metrics_consumer_metrics_port}/metrics",
        "pids": pids,
    }
    path = dev.data_dir.resolve() / "stack.json"
    path.write_text(json.dumps(info, indent=2))
    return path


def run_dev(dev: DevSettings) -> int:
    (dev.data_dir.resolve() / "stack.json").unlink(missing_ok=True)
    pg, broker, env = prepare(dev)
    service_env = {k: v for k, v in env.items() if k.startswith("TOUCHPOINT_")}
    supervisor = Supervisor(dev, service_env, service_children(dev))

    def _stop(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _stop)
    try:
        for child in supervisor.children:
            supervisor.spawn(child)
        supervisor.wait_healthy()
        path = write_stack_file(dev, env, supervisor.pids())
        print(
            f"touchpoint is up\n"
            f"  ingest   http://{dev.host}:{dev.ingest_port}\n"
            f"  profile  http://{dev.host}:{dev.profile_port}\n"
            f"  metrics  http://{dev.host}:{dev.metrics_port}\n"
            f"  kafka    {broker.bootstrap}   postgres {pg.url('touchpoint')}\n"
            f"  write key {env['WRITE_KEY']}\n  read key  {env['READ_KEY']}\n  admin key {env['ADMIN_KEY']}\n"
            f"  (also in {path}; logs in {supervisor.logs}) — Ctrl-C stops everything",
            flush=True,
        )
        while True:
            time.sleep(0.5)
            if supervisor.watch_once():
                write_stack_file(dev, env, supervisor.pids())
    except KeyboardInterrupt:
        print("stopping…", flush=True)
        return 0
    finally:
        supervisor.stop_all()
        broker.stop()
        pg.stop("fast")
