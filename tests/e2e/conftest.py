"""The three services as a user runs them: five real processes (`touchpoint ingest serve`,
`profile serve`, `profile consume`, `metrics serve`, `metrics consume`) on loopback ports,
on the session's embedded Postgres and broker with an environment of their own. Their logs
are captured to files, so tests can check what the services write."""

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from shared.auth import KeyKind
from tests.support.stack import Env, TestStack, free_port, new_env


@dataclass
class Service:
    name: str
    args: list[str]
    url: str  # where /healthz (APIs) or /metrics (consumers) answers
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None


@dataclass
class RunningServices:
    env: Env
    logs: Path
    services: dict[str, Service]

    def url(self, name: str) -> str:
        return self.services[name].url

    def key(self, kind: KeyKind) -> str:
        return self.env.keys[kind]

    def log_text(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in sorted(self.logs.glob("*.log")))


PUBLIC = {"/healthz", "/readyz", "/metrics", "/openapi.json", "/docs", "/redoc", "/docs/oauth2-redirect"}


def route_table() -> list[tuple[str, str, str]]:
    """(service, method, path) of every non-public route, from the apps themselves (not their OpenAPI)."""
    from services.ingest.bootstrap import build_app as ingest_app
    from services.ingest.config import IngestSettings
    from services.metrics.bootstrap import build_app as metrics_app
    from services.metrics.config import MetricsSettings
    from services.profile.bootstrap import build_app as profile_app
    from services.profile.config import ProfileSettings

    apps = {"ingest": ingest_app(IngestSettings()), "profile": profile_app(ProfileSettings()),
            "metrics": metrics_app(MetricsSettings(), background=False)}
    found = []
    for service, app in apps.items():
        for method, path in _flatten(app.routes):
            if path not in PUBLIC:
                found.append((service, method, path))
    return sorted(set(found))


def _flatten(routes: list[Any], prefix: str = "") -> list[tuple[str, str]]:
    """(method, path) of routes, descending into included routers (FastAPI keeps them lazily)."""
    out = []
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            out += _flatten(included.routes, prefix + route.include_context.prefix)
        elif getattr(route, "path", None):
            out += [(m, prefix + route.path) for m in set(getattr(route, "methods", None) or ()) - {"HEAD", "OPTIONS"}]
    return out


def _services() -> list[Service]:
    ports = {name: free_port() for name in ("ingest", "profile", "metrics", "profile-consumer", "metrics-consumer")}
    return [
        Service("ingest", ["ingest", "serve", "--host", "127.0.0.1", "--port", str(ports["ingest"])],
                f"http://127.0.0.1:{ports['ingest']}"),
        Service("profile", ["profile", "serve", "--host", "127.0.0.1", "--port", str(ports["profile"])],
                f"http://127.0.0.1:{ports['profile']}"),
        Service("profile-consumer", ["profile", "consume"], f"http://127.0.0.1:{ports['profile-consumer']}",
                {"TOUCHPOINT_METRICS_PORT": str(ports["profile-consumer"])}),
        Service("metrics", ["metrics", "serve", "--host", "127.0.0.1", "--port", str(ports["metrics"])],
                f"http://127.0.0.1:{ports['metrics']}"),
        Service("metrics-consumer", ["metrics", "consume"], f"http://127.0.0.1:{ports['metrics-consumer']}",
                {"TOUCHPOINT_METRICS_PORT": str(ports["metrics-consumer"])}),
    ]


def _wait_up(service: Service, logs: Path, timeout_s: float = 60.0) -> None:
    probe = f"{service.url}/metrics" if service.name.endswith("consumer") else f"{service.url}/healthz"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert service.process is not None
        if service.process.poll() is not None:
            raise RuntimeError(f"{service.name} exited: {(logs / (service.name + '.log')).read_text()[-2000:]}")
        try:
            if httpx.get(probe, timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{service.name} did not answer {probe} within {timeout_s:.0f}s")


def start_services(env: Env, logs: Path, extra_env: dict[str, str] | None = None) -> dict[str, Service]:
    logs.mkdir(parents=True, exist_ok=True)
    services = {s.name: s for s in _services()}
    base = {**os.environ, **env.os_env, "TOUCHPOINT_LOG_JSON": "true", **(extra_env or {})}
    for service in services.values():
        out = (logs / f"{service.name}.log").open("ab")
        service.process = subprocess.Popen(
            [sys.executable, "-m", "services.cli", *service.args], env={**base, **service.env},
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )
    try:
        for service in services.values():
            _wait_up(service, logs)
    except BaseException:
        stop_services(services)
        raise
    return services


def stop_services(services: dict[str, Service]) -> None:
    for service in services.values():
        if service.process and service.process.poll() is None:
            service.process.terminate()
    for service in services.values():
        if service.process:
            try:
                service.process.wait(20)
            except subprocess.TimeoutExpired:
                service.process.kill()
                service.process.wait(5)


@pytest.fixture(scope="session")
def running(stack: TestStack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServices]:
    env = asyncio.run(new_env(stack))
    logs = tmp_path_factory.mktemp("e2e-logs")
    services = start_services(env, logs)
    try:
        yield RunningServices(env, logs, services)
    finally:
        stop_services(services)
