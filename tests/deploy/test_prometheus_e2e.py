"""A real Prometheus scraping the stack `make run` starts, with the alert rules loaded: the
dashboard's queries return data, and the lag alert fires when the profile consumer stops."""

import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx
import pytest
import yaml

from tests.deploy.artifacts import ALERTS, dashboard_queries, referenced_metrics
from tests.support.devstack import RunningStack, start_dev_stack
from tests.support.stack import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

LAG_ALERT = "TouchpointConsumerLagGrowing"
LAG_FLOOR = 1000
MAX_TOUCHPOINTS_WHILE_STOPPED = 8000
PROFILE_GROUP = "touchpoint-profile"
# Series that exist only after something went wrong, or after a model fit, which a short run
# does not reach: their panels may be empty, but their queries must still be valid.
ONLY_AFTER_FAILURES_OR_FITS = {
    "touchpoint_ingest_unavailable_total",
    "touchpoint_dlq_events_total",
    "touchpoint_consumer_errors_total",
    "touchpoint_profile_identity_conflicts_total",
    "touchpoint_model_last_fit_timestamp_seconds",
    "touchpoint_model_log_likelihood",
}
T = TypeVar("T")


@dataclass
class Prometheus:
    process: subprocess.Popen[bytes]
    url: str

    def query(self, expr: str) -> list[dict[str, Any]]:
        answer = httpx.get(f"{self.url}/api/v1/query", params={"query": expr}, timeout=5).json()
        assert answer["status"] == "success", f"{expr}: {answer}"
        result: list[dict[str, Any]] = answer["data"]["result"]
        return result

    def firing(self, alertname: str) -> list[dict[str, str]]:
        alerts = httpx.get(f"{self.url}/api/v1/alerts", timeout=5).json()["data"]["alerts"]
        return [a["labels"] for a in alerts if a["labels"]["alertname"] == alertname and a["state"] == "firing"]


def wait_for(produce: Callable[[], T], done: Callable[[T], bool], *, within_s: float, what: str) -> T:
    deadline = time.monotonic() + within_s
    while True:
        value = produce()
        if done(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not seen within {within_s:.0f}s; last: {value}")
        time.sleep(0.5)


def e2e_rules(path: Path) -> Path:
    """alerts.yml as shipped, except that the lag alert fires without its 5-minute `for`."""
    rules = yaml.safe_load(ALERTS.read_text())
    for group in rules["groups"]:
        for rule in group["rules"]:
            if rule.get("alert") == LAG_ALERT:
                rule["for"] = "0s"
    path.write_text(yaml.safe_dump(rules))
    return path


def _target(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.netloc, parts.path or "/metrics"


def start_prometheus(work: Path, info: dict[str, Any]) -> Prometheus:
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.skip("prometheus is not installed (Debian package `prometheus`: apt-get install prometheus)")
    jobs = {
        "touchpoint-ingest": info["ingest_url"] + "/metrics",
        "touchpoint-profile-api": info["profile_url"] + "/metrics",
        "touchpoint-metrics-api": info["metrics_url"] + "/metrics",
        "touchpoint-profile-consumer": info["profile_consumer_metrics_url"],
        "touchpoint-metrics-consumer": info["metrics_consumer_metrics_url"],
    }
    scrape_configs = []
    for job, url in jobs.items():
        target, metrics_path = _target(url)
        scrape_configs.append(
            {"job_name": job, "metrics_path": metrics_path, "static_configs": [{"targets": [target]}]}
        )
    config = {
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(e2e_rules(work / "alerts.yml"))],
        "scrape_configs": scrape_configs,
    }
    (work / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    log = open(work / "prometheus.log", "ab")
    process = subprocess.Popen(
        [binary, f"--config.file={work / 'prometheus.yml'}", f"--storage.tsdb.path={work / 'tsdb'}",
         f"--web.listen-address=127.0.0.1:{port}"],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    prometheus = Prometheus(process, f"http://127.0.0.1:{port}")

    def ready() -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"prometheus exited: {(work / 'prometheus.log').read_text()[-2000:]}")
        try:
            return httpx.get(f"{prometheus.url}/-/ready", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    wait_for(ready, bool, within_s=30, what="prometheus ready")
    return prometheus


@pytest.fixture(scope="module")
def dev_stack() -> Iterator[RunningStack]:
    # not under pytest's tmp_path: a concurrent pytest session re-locks its root to 0700, and the
    # embedded Postgres runs as another user
    with tempfile.TemporaryDirectory(prefix="touchpoint-prometheus-e2e-") as work:
        running = start_dev_stack(Path(work) / "data", extra_env={"TOUCHPOINT_GAUGE_REFRESH_S": "1"})
        try:
            yield running
        finally:
            for pid in running.refresh()["pids"].values():
                try:
                    os.kill(pid, signal.SIGCONT)
                except ProcessLookupError:
                    pass
            running.stop()


@pytest.fixture
def prometheus(tmp_path: Path, dev_stack: RunningStack) -> Iterator[Prometheus]:
    work = tmp_path / "prometheus"
    work.mkdir()
    running = start_prometheus(work, dev_stack.info)
    try:
        yield running
    finally:
        running.process.terminate()
        try:
            running.process.wait(15)
        except subprocess.TimeoutExpired:
            running.process.kill()
            running.process.wait()


def post_touchpoints(stack: RunningStack, events: list[dict[str, Any]]) -> None:
    for start in range(0, len(events), 400):
        answer = httpx.post(
            f"{stack.info['ingest_url']}/v1/touchpoints", json={"batch": events[start : start + 400]},
            headers=stack.headers("write"), timeout=30,
        )
        assert answer.status_code < 300, answer.text


def page_views(count: int) -> list[dict[str, Any]]:
    run = uuid.uuid4().hex[:8]
    return [
        {"id": f"pv-{run}-{i}", "type": "page_view", "identities": {"anonymous_id": f"anon-{run}-{i}"}}
        for i in range(count)
    ]


def customer_journey() -> list[dict[str, Any]]:
    """A prospect who later buys and logs in: two profiles merged, one order."""
    run = uuid.uuid4().hex[:8]
    anonymous, customer = f"anon-{run}", f"c-{run}"
    return [
        {"id": f"view-{run}", "type": "product_viewed", "identities": {"anonymous_id": anonymous}},
        {"id": f"mail-{run}", "type": "email_opened", "identities": {"customer_id": customer}},
        {"id": f"order-{run}", "type": "order_completed",
         "identities": {"customer_id": customer, "anonymous_id": anonymous},
         "order": {"order_id": f"o-{run}", "revenue": "42.50", "currency": "EUR",
                   "items": [{"product_id": "p1", "category": "books", "price": "42.50", "quantity": 1}]}},
    ]


def profile_lag(prometheus: Prometheus) -> float:
    result = prometheus.query(f'max(touchpoint_kafka_consumergroup_lag{{group="{PROFILE_GROUP}"}})')
    return float(result[0]["value"][1]) if result else 0.0


def drive_lag_past_the_floor(stack: RunningStack, prometheus: Prometheus) -> list[dict[str, str]]:
    """Send touchpoints until the lag Kafka reports passes the alert's floor, then wait for the alert.

    Counted in offsets, not records: the embedded broker's log-end offsets can trail the records
    it holds, so the number of events needed is not fixed."""
    sent, deadline = 0, time.monotonic() + 90
    while not (firing := prometheus.firing(LAG_ALERT)):
        lag = profile_lag(prometheus)
        assert time.monotonic() < deadline, f"{LAG_ALERT} not firing: lag {lag} after {sent} touchpoints"
        if lag <= LAG_FLOOR and sent < MAX_TOUCHPOINTS_WHILE_STOPPED:
            post_touchpoints(stack, page_views(400))
            sent += 400
        time.sleep(1)
    return firing


def test_every_process_answers_the_probes_compose_and_helm_use(dev_stack: RunningStack) -> None:
    info = dev_stack.info
    apis = (info["ingest_url"], info["profile_url"], info["metrics_url"])
    consumers = (info["profile_consumer_metrics_url"], info["metrics_consumer_metrics_url"])
    probes = [f"{url}/{path}" for url in apis for path in ("healthz", "readyz")]
    probes += [url.removesuffix("/metrics") + "/healthz" for url in consumers]

    def failing() -> list[str]:
        answers = {url: httpx.get(url, timeout=5).status_code for url in probes}
        return [f"{url} -> {status}" for url, status in answers.items() if status != 200]

    wait_for(failing, lambda failed: not failed, within_s=30, what="200 from every probe")


def test_dashboard_queries_have_data_and_the_lag_alert_fires_when_the_profile_consumer_stops(
    dev_stack: RunningStack, prometheus: Prometheus
) -> None:
    # traffic of every kind the dashboard shows: accepted, rejected, folded, merged, bought
    post_touchpoints(dev_stack, customer_journey() + page_views(50))
    refused = httpx.post(f"{dev_stack.info['ingest_url']}/v1/touchpoints", json={"type": "Not A Type!"},
                         headers=dev_stack.headers("write"), timeout=10)
    assert 400 <= refused.status_code < 500

    queries = dashboard_queries()
    required = [(title, expr) for title, expr in queries if not referenced_metrics(expr) & ONLY_AFTER_FAILURES_OR_FITS]
    assert len(required) >= 15

    def empty_panels() -> list[str]:
        return [f"{title}: {expr}" for title, expr in required if not prometheus.query(expr)]

    wait_for(empty_panels, lambda empty: not empty, within_s=90, what="data behind every dashboard query")
    for _, expr in queries:
        prometheus.query(expr)  # optional panels: the query must still be valid
    assert prometheus.firing(LAG_ALERT) == []

    pids = dev_stack.refresh()["pids"]
    os.kill(pids["profile-consumer"], signal.SIGSTOP)
    try:
        firing = drive_lag_past_the_floor(dev_stack, prometheus)
    finally:
        os.kill(pids["profile-consumer"], signal.SIGCONT)
    assert [(a["group"], a["severity"]) for a in firing] == [(PROFILE_GROUP, "critical")]

    wait_for(lambda: prometheus.firing(LAG_ALERT), lambda alerts: alerts == [], within_s=90,
             what=f"{LAG_ALERT} resolved after the consumer resumed")
