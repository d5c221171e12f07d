"""The README's walk-through, against the stack `make run` starts."""

import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.devstack import RunningStack, start_dev_stack

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def dev_stack() -> Iterator[RunningStack]:
    with tempfile.TemporaryDirectory(prefix="touchpoint-dev-") as work:
        running = start_dev_stack(Path(work) / "data")
        try:
            yield running
        finally:
            assert running.stop() == 0


def _poll(fetch, deadline_s: float = 30.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + deadline_s
    while True:
        response = fetch()
        if response.status_code == 200 or time.monotonic() > deadline:
            return response
        time.sleep(0.2)


def test_an_event_posted_to_ingest_shows_up_in_the_profile(dev_stack: RunningStack) -> None:
    info = dev_stack.info
    email = f"ada-{uuid.uuid4().hex[:8]}@example.com"
    event = {
        "id": f"ord-{uuid.uuid4().hex[:8]}", "type": "order_completed",
        "identities": {"customer_id": f"c-{uuid.uuid4().hex[:8]}", "email": email},
        "order": {"order_id": "1001", "revenue": 59.90, "currency": "EUR",
                  "items": [{"product_id": "p1", "category": "books", "price": 59.90, "quantity": 1}]},
    }
    accepted = httpx.post(f"{info['ingest_url']}/v1/touchpoints", json=event, headers=dev_stack.headers("write"))
    assert accepted.status_code == 202, accepted.text
    profile = _poll(lambda: httpx.get(f"{info['profile_url']}/v1/profiles", params={"email": email},
                                      headers=dev_stack.headers("read")))
    assert profile.status_code == 200, profile.text
    body = profile.json()
    assert body["stage"] == "customer"
    churn = httpx.get(f"{info['metrics_url']}/v1/churn", params={"window_days": 90}, headers=dev_stack.headers("read"))
    assert churn.status_code == 200, churn.text


def test_every_service_is_healthy_and_exports_metrics(dev_stack: RunningStack) -> None:
    info = dev_stack.info
    for url in (info["ingest_url"], info["profile_url"], info["metrics_url"]):
        assert httpx.get(f"{url}/healthz").status_code == 200
        assert "touchpoint_http_requests_total" in httpx.get(f"{url}/metrics").text
    for url in (info["profile_consumer_metrics_url"], info["metrics_consumer_metrics_url"]):
        assert "touchpoint_consumer_events_total" in httpx.get(url).text


def test_every_http_service_is_ready_when_its_dependencies_are(dev_stack: RunningStack) -> None:
    info = dev_stack.info
    for url in (info["ingest_url"], info["profile_url"], info["metrics_url"]):
        assert httpx.get(f"{url}/readyz").status_code == 200, url
