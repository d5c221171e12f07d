"""The dev stack (`python -m services.cli dev`) as a child process on free loopback ports,
and the handles a fault injector needs: child pids from stack.json, the broker process,
and the embedded Postgres data directory.

The supervisor restarts service children that die; it does not supervise the broker or
Postgres, so the injector restarts those itself (and stops the broker it started)."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from services.devstack.broker import EmbeddedBroker
from services.devstack.postgres import EmbeddedPostgres


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _gone_within(pid: int, timeout_s: float) -> bool:
    """True once the process is gone or a zombie (it is the dev stack's child, not ours to reap)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.05)
    return False


@dataclass(frozen=True)
class StackPorts:
    pg: int
    kafka: int
    ingest: int
    profile: int
    metrics: int
    profile_consumer_metrics: int
    metrics_consumer_metrics: int

    @classmethod
    def free(cls) -> "StackPorts":
        return cls(*(free_port() for _ in range(7)))

    def env(self) -> dict[str, str]:
        return {
            "TOUCHPOINT_DEV_PG_PORT": str(self.pg),
            "TOUCHPOINT_DEV_KAFKA_PORT": str(self.kafka),
            "TOUCHPOINT_DEV_INGEST_PORT": str(self.ingest),
            "TOUCHPOINT_DEV_PROFILE_PORT": str(self.profile),
            "TOUCHPOINT_DEV_METRICS_PORT": str(self.metrics),
            "TOUCHPOINT_DEV_PROFILE_CONSUMER_METRICS_PORT": str(self.profile_consumer_metrics),
            "TOUCHPOINT_DEV_METRICS_CONSUMER_METRICS_PORT": str(self.metrics_consumer_metrics),
            "TOUCHPOINT_DEV_HOST": "127.0.0.1",
        }


@dataclass
class DevStack:
    data_dir: Path
    ports: StackPorts
    extra_env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    own_broker: EmbeddedBroker | None = None

    @property
    def stack_file(self) -> Path:
        return self.data_dir / "stack.json"

    @property
    def logs(self) -> Path:
        return self.data_dir / "logs"

    def start(self, *, timeout_s: float = 180.0) -> dict[str, Any]:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.stack_file.unlink(missing_ok=True)
        env = {**os.environ, **self.ports.env(), "TOUCHPOINT_DEV_DATA_DIR": str(self.data_dir),
               "TOUCHPOINT_LOG_JSON": "true", **self.extra_env}
        out = (self.data_dir / "dev.log").open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "services.cli", "dev"], env=env, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout_s
        while not self.stack_file.exists():
            if self.process.poll() is not None:
                raise RuntimeError(f"the dev stack exited with {self.process.returncode}; see {self.data_dir}/dev.log")
            if time.monotonic() > deadline:
                raise TimeoutError(f"the dev stack did not come up in {timeout_s:.0f}s; see {self.data_dir}/dev.log")
            time.sleep(0.2)
        return self.info()

    def info(self) -> dict[str, Any]:
        for _ in range(50):
            try:
                data: dict[str, Any] = json.loads(self.stack_file.read_text())
                return data
            except (json.JSONDecodeError, FileNotFoundError):
                time.sleep(0.05)  # the supervisor is rewriting it
        raise RuntimeError("stack.json unreadable")

    def pids(self) -> dict[str, int]:
        return {name: int(pid) for name, pid in self.info().get("pids", {}).items()}

    def kill_child(self, name: str) -> int:
        pid = self.pids()[name]
        os.kill(pid, signal.SIGKILL)
        return pid

    def wait_restarted(self, name: str, old_pid: int, *, timeout_s: float = 60.0) -> int:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            pid = self.pids().get(name)
            if pid and pid != old_pid and psutil.pid_exists(pid):
                return pid
            time.sleep(0.1)
        raise TimeoutError(f"{name} was not restarted by the supervisor within {timeout_s:.0f}s")

    def freeze(self) -> list[int]:
        """SIGSTOP every service process (they keep their sockets and state); returns the pids."""
        pids = list(self.pids().values())
        for pid in pids:
            try:
                os.kill(pid, signal.SIGSTOP)
            except ProcessLookupError:
                continue
        return pids

    def thaw(self, pids: list[int]) -> None:
        for pid in pids:
            try:
                os.kill(pid, signal.SIGCONT)
            except ProcessLookupError:
                continue

    # --- the broker -------------------------------------------------------------------
    def broker_pids(self) -> list[int]:
        needle = f":{self.ports.kafka}"
        found = []
        for proc in psutil.process_iter(["pid", "cmdline"]):
            cmdline = proc.info.get("cmdline") or []
            if "--listener-url" in cmdline and any(arg.endswith(needle) for arg in cmdline):
                found.append(int(proc.info["pid"]))
        return found

    def stop_broker(self, *, timeout_s: float = 10.0) -> None:
        if self.own_broker is not None:
            self.own_broker.stop()
            self.own_broker = None
        for pid in self.broker_pids():
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
            if not _gone_within(pid, timeout_s):
                os.kill(pid, signal.SIGKILL)
                _gone_within(pid, timeout_s)

    def start_broker(self) -> None:
        self.own_broker = EmbeddedBroker(self.data_dir, port=self.ports.kafka)
        self.own_broker.start()

    # --- Postgres -----------------------------------------------------------------------
    def postgres(self) -> EmbeddedPostgres:
        return EmbeddedPostgres(self.data_dir.resolve(), port=self.ports.pg)

    def restart_postgres(self, *, down_s: float = 1.0) -> None:
        pg = self.postgres()
        pg.stop("immediate")
        time.sleep(down_s)
        pg.start()

    # --- the whole stack -----------------------------------------------------------------
    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        if self.own_broker is not None:
            self.own_broker.stop()
            self.own_broker = None
        pg = self.postgres()
        if pg.running():
            pg.stop("fast")

    def service_processes(self) -> dict[str, psutil.Process]:
        out = {}
        for name, pid in self.pids().items():
            try:
                out[name] = psutil.Process(pid)
            except psutil.NoSuchProcess:
                continue
        return out
