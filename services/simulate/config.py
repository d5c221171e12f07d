"""What a simulation run needs, from flags or from the dev stack's stack.json."""

import ipaddress
import json
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

DEFAULT_STACK_FILE = Path(".touchpoint/stack.json")


@dataclass(frozen=True)
class SimulateOptions:
    ingest_url: str
    write_key: str
    ledger_path: Path
    rate: float = 200.0
    duration_s: float = 30.0
    customers: int = 1000
    seed: int = 1
    concurrency: int = 4
    poison: int = 0
    run: str | None = None
    kafka_bootstrap: str | None = None
    topic_prefix: str = ""
    retry_grace_s: float = 60.0


class NotLoopback(ValueError):
    pass


def require_loopback(url: str) -> str:
    host = urlsplit(url if "://" in url else f"tcp://{url}").hostname or ""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise NotLoopback(f"{url} is not a loopback address; the simulator only talks to a local stack.")
    return url


def read_stack_file(path: Path) -> dict[str, object]:
    if not path.exists():
        return {}
    data = json.loads(path.read_text())
    return data if isinstance(data, dict) else {}
