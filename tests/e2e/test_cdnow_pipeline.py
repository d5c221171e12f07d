"""The CDNOW sample replayed as order_completed touchpoints through the whole pipeline —
HTTP ingest, Kafka, profile, customers.v1, metrics — reproduces the published BG/NBD and
Gamma-Gamma estimates (Fader, Hardie & Lee 2005; Fader & Hardie 2013)."""

import asyncio
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from shared.auth import KeyKind
from tests.e2e.conftest import Service, start_services, stop_services
from tests.support.stack import Env, TestStack, new_env

pytestmark = pytest.mark.e2e

DATA = Path(__file__).resolve().parent.parent / "data" / "CDNOW_sample.txt"


def _events() -> tuple[list[dict[str, object]], Decimal, int]:
    events, total, customers = [], Decimal(0), set()
    for line_no, line in enumerate(DATA.read_text().splitlines()):
        customer, _, day, _, amount = line.split()
        customers.add(customer)
        total += Decimal(amount)
        events.append({
            "id": f"cdnow-{line_no}", "type": "order_completed", "channel": "web",
            "identities": {"customer_id": f"cdnow-{customer}"},
            "occurred_at": f"{day[:4]}-{day[4:6]}-{day[6:]}T12:00:00Z",
            "order": {"order_id": f"{customer}-{line_no}", "revenue": amount, "currency": "USD"},
        })
    return events, total, len(customers)


@pytest.fixture(scope="module")
def pipeline(stack: TestStack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Env, dict[str, Service]]]:
    env = asyncio.run(new_env(stack))
    services = start_services(env, tmp_path_factory.mktemp("cdnow-logs"),
                              {"TOUCHPOINT_RATE_LIMIT_EVENTS_PER_S": "0"})
    try:
        yield env, services
    finally:
        stop_services(services)


def test_cdnow_through_the_whole_pipeline_reproduces_the_published_fit(
    pipeline: tuple[Env, dict[str, Service]],
) -> None:
    env, services = pipeline
    write = {"Authorization": f"Bearer {env.keys[KeyKind.WRITE]}"}
    read = {"Authorization": f"Bearer {env.keys[KeyKind.READ]}"}
    admin = {"Authorization": f"Bearer {env.keys[KeyKind.ADMIN]}"}
    events, total_revenue, n_customers = _events()
    assert (len(events), n_customers) == (6919, 2357)

    with httpx.Client(timeout=30) as http:
        for start in range(0, len(events), 500):
            response = http.post(f"{services['ingest'].url}/v1/touchpoints",
                                 json={"batch": events[start:start + 500]}, headers=write)
            assert response.status_code == 202, response.text

        # folded through profile and metrics: every customer and every cent has arrived
        deadline, seen = time.monotonic() + 240, None
        while time.monotonic() < deadline:
            clv = http.get(f"{services['metrics'].url}/v1/clv", params={"method": "historical"}, headers=read)
            if clv.status_code == 200:
                total = clv.json()["total"]
                net = Decimal(str(total["detail"].get("net_revenue", 0))).quantize(Decimal("0.01"))
                seen = (total["customers"], net)
                if seen == (n_customers, total_revenue):
                    break
            time.sleep(1)
        assert seen == (n_customers, total_revenue)

        fit = http.post(f"{services['metrics'].url}/v1/admin/model/refit",
                        json={"calibration_end": "1997-09-30"}, headers=admin)
        assert fit.status_code == 200, fit.text
        models = fit.json()["models"]

    bg, gg = models["bgnbd"], models["gamma_gamma"]
    assert bg["n_customers"] == 2357 and bg["time_unit_days"] == 7
    assert {k: round(v, 3) for k, v in bg["params"].items()} == {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
    assert round(bg["log_likelihood"], 1) == -9582.4
    assert gg["n_customers"] == 946
    assert {k: round(v, 2) for k, v in gg["params"].items()} == {"p": 6.25, "q": 3.74, "v": 15.44}
