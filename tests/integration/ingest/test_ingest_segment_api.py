import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import segment.analytics as analytics
import uvicorn

from services.ingest.bootstrap import build_app
from shared.events import Touchpoint
from tests.integration.ingest.harness import Ingest, ingest_settings, published_ids, read_records
from tests.support.stack import Env, free_port


@contextlib.asynccontextmanager
async def served(env: Env) -> AsyncIterator[str]:
    """The ingest app under a real uvicorn server on a free loopback port."""
    port = free_port()
    config = uvicorn.Config(
        build_app(ingest_settings(env)),
        host="127.0.0.1",
        port=port,
        lifespan="on",
        log_config=None,
        access_log=False,
        loop="asyncio",
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


async def test_the_segment_sdk_round_trips_into_touchpoints(env: Env) -> None:
    from shared.auth import KeyKind

    errors: list[Any] = []
    async with served(env) as url:
        client = analytics.Client(
            env.keys[KeyKind.WRITE],
            host=url,
            gzip=True,
            max_retries=1,
            on_error=lambda error, batch: errors.append(error),
            upload_interval=0.05,
        )
        sent = [
            client.identify("user-1", {"email": "Ann@Example.com", "name": "Ann"}, anonymous_id="anon-1")[1],
            client.track(
                "user-1",
                "Order Completed",
                {
                    "order_id": "o-77",
                    "revenue": 42.5,
                    "currency": "eur",
                    "products": [{"product_id": "p1", "sku": "S-1", "price": 21.25, "quantity": 2, "category": "Toys"}],
                },
            )[1],
            client.page("user-1", category="Docs", name="Pricing", properties={"url": "https://shop.example/pricing"})[
                1
            ],
            client.alias("anon-1", "user-1")[1],
        ]
        await asyncio.to_thread(client.flush)
        await asyncio.to_thread(client.join)
    assert errors == []
    records = await read_records(ingest_settings(env), 4)
    by_type = {tp.type: tp for tp in (Touchpoint.from_json(r.value) for r in records)}
    assert set(by_type) == {"identified", "order_completed", "page_view", "aliased"}
    assert {tp.id for tp in by_type.values()} == {m["messageId"] for m in sent}

    identified = by_type["identified"]
    assert identified.identities.pairs() == [
        ("customer_id", "user-1"),
        ("email", "ann@example.com"),
        ("anonymous_id", "anon-1"),
    ]
    assert identified.traits == {"email": "Ann@Example.com", "name": "Ann"}

    order = by_type["order_completed"]
    assert (order.phase, order.initiator, order.channel) == ("purchase", "customer", "web")
    assert order.order is not None
    assert (order.order.order_id, order.order.revenue, order.order.currency) == ("o-77", Decimal("42.5"), "EUR")
    assert [(i.product_id, i.sku, i.price, i.quantity, i.category) for i in order.order.items] == [
        ("p1", "S-1", Decimal("21.25"), 2, "Toys")
    ]
    assert order.context["library"]["name"] == "analytics-python"

    page = by_type["page_view"]
    assert page.properties == {"url": "https://shop.example/pricing", "name": "Pricing", "category": "Docs"}

    alias = by_type["aliased"]
    assert alias.identities.pairs() == [("customer_id", "user-1"), ("anonymous_id", "anon-1")]
    for tp in by_type.values():
        assert tp.source == "test"
        assert abs((tp.occurred_at - datetime.now(UTC)).total_seconds()) < 60


def message(**fields: Any) -> dict[str, Any]:
    return {"type": "track", "event": "Product Viewed", "anonymousId": "anon-1", **fields}


async def test_a_segment_batch_answers_success_only_when_all_were_accepted(ingest: Ingest) -> None:
    ok = await ingest.client.post(
        "/v1/batch", json={"batch": [message(messageId="m1"), message(messageId="m2")]}, headers=ingest.auth()
    )
    assert (ok.status_code, ok.json()) == (200, {"success": True})
    partial = await ingest.client.post(
        "/v1/import",
        json={
            "batch": [
                message(messageId="m3"),
                {"type": "track", "messageId": "m4", "anonymousId": "a"},
                message(messageId="m5", event="Order Completed", properties={"order_id": "o", "revenue": "lots"}),
            ]
        },
        headers=ingest.auth(),
    )
    assert partial.status_code == 207
    results = partial.json()["results"]
    assert [r["status"] for r in results] == ["accepted", "rejected", "rejected"]
    assert (results[1]["id"], results[1]["error"]["code"], results[1]["error"]["path"]) == (
        "m4",
        "invalid_type",
        "batch[1].event",
    )
    assert (results[2]["error"]["code"], results[2]["error"]["path"]) == (
        "invalid_field",
        "batch[2].properties.revenue",
    )
    assert await published_ids(ingest) == ["m1", "m2", "m3"]


async def test_the_write_key_may_travel_in_the_body_as_segment_allows(ingest: Ingest) -> None:
    accepted = await ingest.client.post("/v1/track", json=message(messageId="wk-1", writeKey=ingest.write_key))
    assert (accepted.status_code, accepted.json()) == (200, {"success": True})
    refused = await ingest.client.post("/v1/track", json=message(writeKey="tp_write_nope_nope"))
    assert refused.status_code == 401
    assert (await ingest.client.post("/v1/track", json=message())).status_code == 401


async def test_each_single_call_maps_to_its_type(ingest: Ingest) -> None:
    calls: dict[str, tuple[dict[str, Any], str]] = {
        "identify": ({"userId": "u1", "traits": {"email": "u1@example.com"}}, "identified"),
        "page": ({"anonymousId": "a1", "name": "Home"}, "page_view"),
        "screen": ({"anonymousId": "a1", "name": "Cart"}, "screen_view"),
        "group": ({"userId": "u1", "groupId": "g1"}, "group_joined"),
        "alias": ({"userId": "u1", "previousId": "a1"}, "aliased"),
        "track": ({"userId": "u1", "event": "Checkout Started"}, "checkout_started"),
    }
    for call, (body, _) in calls.items():
        response = await ingest.client.post(
            f"/v1/{call}", json={**body, "messageId": f"call-{call}"}, headers=ingest.auth()
        )
        assert (response.status_code, response.json()) == (200, {"success": True}), call
    records = await read_records(ingest.settings, len(calls))
    types = {tp.id: tp.type for tp in (Touchpoint.from_json(r.value) for r in records)}
    assert types == {f"call-{call}": kind for call, (_, kind) in calls.items()}


async def test_a_bad_single_call_gets_the_native_results(ingest: Ingest) -> None:
    response = await ingest.client.post("/v1/track", json={"event": "Signed In"}, headers=ingest.auth())
    assert response.status_code == 422
    assert response.json()["results"][0]["error"]["code"] == "missing_identity"
