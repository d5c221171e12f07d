"""Start `touchpoint dev` as a user would, on free ports and a temporary data dir."""

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.stack import free_port


@dataclass
class RunningStack:
    process: subprocess.Popen[bytes]
    data_dir: Path
    info: dict[str, Any]

    def refresh(self) -> dict[str, Any]:
        self.info = json.loads((self.data_dir / "stack.json").read_text())
        return self.info

    def headers(self, kind: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.info[kind + '_key']}"}

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        return self.process.returncode


def dev_env(data_dir: Path) -> dict[str, str]:
    return {
        "TOUCHPOINT_DEV_DATA_DIR": str(data_dir),
        "TOUCHPOINT_DEV_PG_PORT": str(free_port()),
        "TOUCHPOINT_DEV_KAFKA_PORT": str(free_port()),
        "TOUCHPOINT_DEV_INGEST_PORT": str(free_port()),
        "TOUCHPOINT_DEV_PROFILE_PORT": str(free_port()),
        "TOUCHPOINT_DEV_METRICS_PORT": str(free_port()),
        "TOUCHPOINT_DEV_PROFILE_CONSUMER_METRICS_PORT": str(free_port()),
        "TOUCHPOINT_DEV_METRICS_CONSUMER_METRICS_PORT": str(free_port()),
    }


def start_dev_stack(data_dir: Path, *, extra_env: dict[str, str] | None = None, timeout_s: float = 120) -> RunningStack:
    data_dir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, **dev_env(data_dir), **(extra_env or {})}
    log = open(data_dir / "dev.log", "ab")
    process = subprocess.Popen(
        [sys.executable, "-m", "services.cli", "dev"], env=env, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + timeout_s
    stack_file = data_dir / "stack.json"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = (data_dir / "dev.log").read_text()[-3000:]
            raise RuntimeError(f"touchpoint dev exited {process.returncode}: {tail}")
        if stack_file.exists():
            return RunningStack(process, data_dir, json.loads(stack_file.read_text()))
        time.sleep(0.2)
    process.kill()
    raise TimeoutError(f"touchpoint dev not up: {(data_dir / 'dev.log').read_text()[-3000:]}")
