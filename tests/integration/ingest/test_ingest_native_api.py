import gzip
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from aiokafka.partitioner import DefaultPartitioner

from shared.envelope import encode_touchpoint, header
from shared.events import Touchpoint
from tests.integration.ingest.harness import Ingest, event, published_ids, read_records, running_ingest
from tests.support.stack import Env


async def test_an_accepted_event_is_in_kafka_byte_for_byte_as_a_cloudevent(ingest: Ingest) -> None:
    before = datetime.now(UTC)
    response = await ingest.post(
        event(
            id="evt-1",
            type="order_completed",
            identities={"anonymous_id": "a-1", "customer_id": "C-1"},
            occurred_at="2026-02-01T10:00:00Z",
            order={"order_id": "o-1", "revenue": "30.00", "currency": "EUR"},
            traits={"segment": "b2b"},
            properties={"coupon": "X"},
        )
    )
    assert response.status_code == 202
    assert response.json() == {
        "accepted": 1,
        "duplicates": 0,
        "rejected": 0,
        "results": [{"index": 0, "id": "evt-1", "status": "accepted"}],
    }
    [record] = await read_records(ingest.settings, 1)
    tp = Touchpoint.from_json(record.value)
    expected = encode_touchpoint(tp)
    assert (record.key, record.value, list(record.headers)) == (expected.key, expected.value, expected.headers)
    assert record.key == b"customer_id:C-1"
    assert header(record.headers, "ce_id") == "evt-1"
    assert header(record.headers, "ce_source") == "test"
    assert header(record.headers, "ce_type") == "io.touchpoint.touchpoint.order_completed"
    assert header(record.headers, "ce_time") == "2026-02-01T10:00:00Z"
    assert (tp.source, tp.phase, tp.initiator, tp.channel) == ("test", "purchase", "customer", "web")
    assert tp.order is not None and str(tp.order.revenue) == "30.00"
    assert before <= tp.received_at <= datetime.now(UTC)


async def test_a_batch_is_packed_per_partition_exactly_as_the_default_partitioner_would(ingest: Ingest) -> None:
    count = 48
    batch = [event(id=f"b-{i}", identities={"customer_id": f"cust-{i % 7}"}) for i in range(count)]
    response = await ingest.post({"batch": batch})
    assert response.status_code == 202 and response.json()["accepted"] == count
    records = await read_records(ingest.settings, count)
    assert sorted(r.key for r in records) == sorted(f"customer_id:cust-{i % 7}".encode() for i in range(count))
    partitions = list(range(ingest.settings.kafka_partitions))
    for record in records:
        expected = encode_touchpoint(Touchpoint.from_json(record.value))
        assert (record.key, record.value, list(record.headers)) == (expected.key, expected.value, expected.headers)
        assert record.partition == DefaultPartitioner()(record.key, partitions, partitions)
    order_of = {r.value: r.offset for r in records}
    same_customer = [r for r in records if r.key == b"customer_id:cust-0"]
    assert [Touchpoint.from_json(r.value).id for r in sorted(same_customer, key=lambda r: order_of[r.value])] == [
        f"b-{i}" for i in range(count) if i % 7 == 0
    ]


async def test_a_partly_bad_batch_publishes_only_its_accepted_events(ingest: Ingest) -> None:
    response = await ingest.post(
        {
            "batch": [
                event(id="a"),
                event(id="b", identities={"email": "not-an-email"}),
                event(id="a"),
                event(id="c"),
            ]
        }
    )
    assert response.status_code == 207
    body = response.json()
    assert (body["accepted"], body["duplicates"], body["rejected"]) == (2, 1, 1)
    assert [r["status"] for r in body["results"]] == ["accepted", "rejected", "duplicate", "accepted"]
    assert body["results"][1]["error"]["code"] == "missing_identity"
    assert body["results"][1]["error"]["path"] == "batch[1].identities"
    assert await published_ids(ingest) == ["a", "c"]


async def test_an_all_bad_request_is_422_and_publishes_nothing(ingest: Ingest) -> None:
    response = await ingest.post({"batch": [event(type="Bad Type"), event(identities={})]})
    assert response.status_code == 422
    assert [r["error"]["code"] for r in response.json()["results"]] == ["invalid_type", "missing_identity"]
    assert await published_ids(ingest) == []


async def test_the_server_fills_a_missing_id_and_returns_it(ingest: Ingest) -> None:
    response = await ingest.post(event())
    generated = response.json()["results"][0]["id"]
    assert response.status_code == 202 and len(generated) == 36
    [record] = await read_records(ingest.settings, 1)
    assert Touchpoint.from_json(record.value).id == generated


async def test_gzip_bodies_are_accepted(ingest: Ingest) -> None:
    body = gzip.compress(orjson.dumps({"batch": [event(id=f"g-{i}") for i in range(3)]}))
    response = await ingest.client.post(
        "/v1/touchpoints",
        content=body,
        headers={**ingest.auth(), "Content-Encoding": "gzip", "Content-Type": "application/json"},
    )
    assert response.status_code == 202 and response.json()["accepted"] == 3
    assert await published_ids(ingest) == ["g-0", "g-1", "g-2"]


def _bomb() -> bytes:
    return gzip.compress(b" " * (20 * 1024 * 1024), compresslevel=9)


@pytest.mark.parametrize(
    ("content", "headers", "status", "code"),
    [
        (b'{"type": "page_view",\n "identities": }', {}, 400, "invalid_json"),
        (b"<event/>", {"Content-Type": "application/xml"}, 415, "unsupported_media_type"),
        (b"{}", {"Content-Encoding": "br"}, 415, "unsupported_media_type"),
        (b"[" + b"1," * 300_000 + b"1]", {}, 413, "body_too_large"),
        (_bomb(), {"Content-Encoding": "gzip"}, 413, "body_too_large"),
        (orjson.dumps({"batch": [event()] * 501}), {}, 413, "batch_too_large"),
        (orjson.dumps({"batch": [event()], "source": "x"}), {}, 422, "unknown_field"),
        (orjson.dumps({"batch": []}), {}, 422, "invalid_field"),
    ],
    ids=["json", "xml", "brotli", "large", "gzip-bomb", "501-events", "batch-field", "empty-batch"],
)
async def test_request_level_refusals(
    ingest: Ingest, content: bytes, headers: dict[str, str], status: int, code: str
) -> None:
    response = await ingest.client.post("/v1/touchpoints", content=content, headers={**ingest.auth(), **headers})
    assert response.status_code == status
    error = response.json()["error"]
    assert error["code"] == code and error["message"].endswith(".")
    assert await published_ids(ingest) == []


async def test_invalid_json_says_where(ingest: Ingest) -> None:
    response = await ingest.client.post("/v1/touchpoints", content=b'{\n  "type": page_view\n}', headers=ingest.auth())
    assert "line 2, column 11" in response.json()["error"]["message"]


@pytest.mark.parametrize(
    ("fields", "code", "path"),
    [
        ({"properties": {"blob": "x" * 33_000}}, "event_too_large", None),
        ({"properties": {"blob": "x" * 9_000}}, "event_too_large", "properties"),
        ({"channel": "telepathy"}, "invalid_field", "channel"),
        ({"identities": {"anonymous_id": "undefined"}}, "missing_identity", "identities"),
        ({"type": "order_refunded"}, "missing_order", "order"),
        ({"received_at": "2026-01-01T00:00:00Z"}, "server_owned_field", "received_at"),
        ({"source": "elsewhere"}, "server_owned_field", "source"),
        ({"colour": "red"}, "unknown_field", "colour"),
        ({"type": "PageView"}, "invalid_type", "type"),
    ],
    ids=["event-size", "properties-size", "channel", "identity", "order", "received_at", "source", "colour", "type"],
)
async def test_event_level_refusals(ingest: Ingest, fields: dict[str, Any], code: str, path: str | None) -> None:
    response = await ingest.post(event(**fields))
    assert response.status_code == 422
    [result] = response.json()["results"]
    assert result["status"] == "rejected"
    assert result["error"]["code"] == code and result["error"].get("path") == path
    assert result["error"]["message"]
    assert await published_ids(ingest) == []


async def test_a_key_over_its_rate_gets_429_with_retry_after(env: Env) -> None:
    from tests.integration.ingest.harness import ingest_settings

    settings = ingest_settings(env, rate_limit_events_per_s=0.5, rate_limit_burst=3)
    async with running_ingest(env, settings) as ingest:
        assert (await ingest.post({"batch": [event(), event(), event()]})).status_code == 202
        limited = await ingest.post(event())
        assert limited.status_code == 429
        assert limited.json()["error"]["code"] == "rate_limited"
        assert int(limited.headers["Retry-After"]) >= 1
        assert len(await read_records(settings, 3)) == 3


async def test_metrics_carry_the_agreed_names(ingest: Ingest) -> None:
    await ingest.post(event())
    await ingest.post(event(type="Nope"))
    text = (await ingest.client.get("/metrics")).text
    for name in (
        'touchpoints_accepted_total{api="native"}',
        'touchpoints_rejected_total{reason="invalid_type"}',
        "touchpoint_kafka_send_duration_seconds_bucket",
        "touchpoint_kafka_sends_in_flight",
        'touchpoint_http_requests_total{method="POST",route="/v1/touchpoints",service="ingest",status="202"}',
    ):
        assert name in text, name
    assert "touchpoint_ingest_unavailable_total" in text


async def test_health_and_readiness(ingest: Ingest) -> None:
    assert (await ingest.client.get("/healthz")).status_code == 200
    ready = await ingest.client.get("/readyz")
    assert ready.status_code == 200 and ready.json() == {"status": "ready"}
