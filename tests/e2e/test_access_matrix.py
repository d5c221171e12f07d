"""Every route of every service against every kind of key: none, garbage, revoked, the wrong
kind, the right kind; a write key of another source; and no customer data or key material in
the services' logs or metric labels."""

import asyncio
import base64
import uuid
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer

from shared.auth import KeyKind, create_key, revoke_key, split_key
from shared.db import create_engine
from shared.events import Touchpoint
from tests.e2e.conftest import RunningServices, route_table

pytestmark = pytest.mark.e2e

SOME_ID = "5f0c7a9e-0000-4000-8000-000000000001"
EVENT = {"type": "page_view", "identities": {"anonymous_id": "access-matrix"}}


def needed_kind(service: str, method: str, path: str) -> KeyKind:
    if service == "ingest":
        return KeyKind.WRITE
    if "/admin/" in path or method == "DELETE" or path.endswith("/export"):
        return KeyKind.ADMIN
    return KeyKind.READ


def routes(_: RunningServices) -> list[tuple[str, str, str]]:
    return route_table()


def call(running: RunningServices, service: str, method: str, path: str, key: str | None) -> httpx.Response:
    url = running.url(service) + path.replace("{profile_id}", SOME_ID).replace("{id}", SOME_ID)
    headers = {"authorization": f"Bearer {key}"} if key else {}
    body: Any = EVENT if service == "ingest" else None
    return httpx.request(method, url, headers=headers, json=body, timeout=15)


@pytest.fixture(scope="module")
def keys(running: RunningServices) -> dict[str, str]:
    async def make() -> dict[str, str]:
        engine = create_engine(running.env.settings, pool_size=1)
        try:
            out = {}
            for kind in KeyKind:
                issued = await create_key(engine, kind=kind, source="test")
                await revoke_key(engine, key_id=issued.principal.key_id)
                out[f"revoked_{kind.value}"] = issued.key
            out["other_source_write"] = (await create_key(engine, kind=KeyKind.WRITE, source="partner")).key
            return out
        finally:
            await engine.dispose()

    return {**asyncio.run(make()), **{kind.value: running.key(kind) for kind in KeyKind}}


def test_every_service_publishes_routes_to_check(running: RunningServices) -> None:
    by_service = {service for service, _, _ in routes(running)}
    assert by_service == {"ingest", "profile", "metrics"}


def test_no_key_or_a_garbage_key_is_401_on_every_route(running: RunningServices) -> None:
    for service, method, path in routes(running):
        for key in (None, "tp_read_nope_nope", "not-a-key"):
            response = call(running, service, method, path, key)
            assert response.status_code == 401, (service, method, path, key, response.text)
            assert response.json()["error"]["code"] == "unauthorized"


def test_a_revoked_key_is_401_on_every_route(running: RunningServices, keys: dict[str, str]) -> None:
    for service, method, path in routes(running):
        key = keys[f"revoked_{needed_kind(service, method, path).value}"]
        response = call(running, service, method, path, key)
        assert response.status_code == 401, (service, method, path, response.text)


def test_the_wrong_kind_of_key_is_403_and_the_right_kind_passes(running: RunningServices, keys: dict[str, str]) -> None:
    grants = {KeyKind.WRITE: {KeyKind.WRITE}, KeyKind.READ: {KeyKind.READ, KeyKind.ADMIN},
              KeyKind.ADMIN: {KeyKind.ADMIN}}
    for service, method, path in routes(running):
        needed = needed_kind(service, method, path)
        for kind in KeyKind:
            response = call(running, service, method, path, keys[kind.value])
            if kind in grants[needed]:
                assert response.status_code not in (401, 403), (service, method, path, kind, response.text)
            else:
                assert response.status_code == 403, (service, method, path, kind, response.text)
                assert response.json()["error"]["code"] == "forbidden"


def test_segment_basic_auth_follows_the_same_matrix(running: RunningServices, keys: dict[str, str]) -> None:
    url = f"{running.url('ingest')}/v1/track"
    message = {"event": "Product Viewed", "anonymousId": "access-segment", "messageId": f"m-{uuid.uuid4()}"}

    def basic(key: str) -> dict[str, str]:
        return {"authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}

    expected = {"write": 200, "read": 403, "admin": 403, "revoked_write": 401}
    for name, status in expected.items():
        response = httpx.post(url, json=message, headers=basic(keys[name]), timeout=15)
        assert response.status_code == status, (name, response.text)
    assert httpx.post(url, json=message, timeout=15).status_code == 401


async def _published(running: RunningServices, event_id: str) -> Touchpoint:
    settings = running.env.settings
    consumer = AIOKafkaConsumer(settings.topics.touchpoints, bootstrap_servers=settings.kafka_bootstrap,
                                auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    try:
        for _ in range(100):
            for records in (await consumer.getmany(timeout_ms=200)).values():
                for record in records:
                    event = Touchpoint.from_json(record.value)
                    if event.id == event_id:
                        return event
    finally:
        await consumer.stop()
    raise AssertionError(f"{event_id} not published")


async def test_a_key_of_another_source_stamps_its_own_source_and_cannot_claim_another(
    running: RunningServices, keys: dict[str, str]
) -> None:
    event_id = f"partner-{uuid.uuid4()}"
    headers = {"authorization": f"Bearer {keys['other_source_write']}"}
    async with httpx.AsyncClient(base_url=running.url("ingest"), timeout=15) as client:
        accepted = await client.post("/v1/touchpoints", json={**EVENT, "id": event_id}, headers=headers)
        spoofed = await client.post("/v1/touchpoints", json={**EVENT, "source": "test"}, headers=headers)
    assert accepted.status_code == 202, accepted.text
    assert spoofed.status_code == 422
    assert spoofed.json()["results"][0]["error"]["code"] == "server_owned_field"
    assert (await _published(running, event_id)).source == "partner"


async def test_no_customer_data_or_key_material_in_logs_or_metric_labels(
    running: RunningServices, keys: dict[str, str]
) -> None:
    marker = uuid.uuid4().hex[:10]
    phone_digits = f"{uuid.uuid4().int % 10**7:07d}"
    email, customer_id, phone = f"leak.{marker}@example.test", f"leak-cust-{marker}", f"+44 7700 {phone_digits}"
    digits = "447700" + phone_digits
    event = {"id": f"leak-{marker}", "type": "order_completed",
             "identities": {"email": email, "customer_id": customer_id, "phone": phone},
             "order": {"order_id": f"leak-order-{marker}", "revenue": "12.50"}, "traits": {"name": f"Leaky {marker}"}}
    read = {"authorization": f"Bearer {keys['read']}"}
    async with httpx.AsyncClient(timeout=15) as client:
        response = await client.post(f"{running.url('ingest')}/v1/touchpoints", json=event,
                                     headers={"authorization": f"Bearer {keys['write']}"})
        assert response.status_code == 202, response.text
        profile = None
        for _ in range(150):
            found = await client.get(f"{running.url('profile')}/v1/profiles", params={"email": email}, headers=read)
            if found.status_code == 200:
                profile = found.json()
                break
            await asyncio.sleep(0.2)
        assert profile is not None, "the event was not folded into a profile"
        for params in ({"customer_id": customer_id}, {"phone": phone}, {"email": "nobody." + email}):
            await client.get(f"{running.url('profile')}/v1/profiles", params=params, headers=read)
        await client.post(f"{running.url('ingest')}/v1/touchpoints", json=EVENT,
                          headers={"authorization": f"Bearer {email}"})
        scraped = [(await client.get(f"{s.url}/metrics")).text for s in running.services.values()]
    secrets = {"email": email, "customer_id": customer_id, "phone digits": digits, "trait": f"Leaky {marker}"}
    for name in ("write", "read", "admin", "other_source_write", "revoked_write"):
        secrets[f"{name} key secret"] = (split_key(keys[name]) or ("", keys[name]))[1]
    logs = running.log_text()
    assert logs, "no service logs were captured"
    for label, value in secrets.items():
        assert value not in logs, f"{label} appears in a service log"
        for text in scraped:
            assert value not in text, f"{label} appears in /metrics"
