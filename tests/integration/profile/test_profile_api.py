from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from profile_harness import engine_for, profile_settings, read_topic, scalar
from pydantic import BaseModel

from services.profile.adapters.graph_store import PostgresGraphStore
from services.profile.adapters.outbox_relay import OutboxRelay
from services.profile.config import ProfileSettings
from services.profile.entrypoints.api import create_app
from services.profile.entrypoints.schemas import (
    ErasureReport,
    ExportBody,
    MergeHistory,
    ProfileBody,
    ProfilePage,
    TimelinePage,
)
from services.profile.service_layer.folding import fold_records
from shared.auth import KeyKind, create_key, revoke_key
from shared.errors import ErrorResponse
from shared.events import Touchpoint
from shared.facts import CustomerFact, FactKind
from shared.kafka import create_producer
from shared.suppression import Suppression, fingerprint
from tests.support.stack import Env
from tests.unit.profile.profile_world import order, touchpoint

NOW = datetime.now(UTC).replace(microsecond=0)


class Api:
    def __init__(self, client: httpx.AsyncClient, env: Env, settings: ProfileSettings) -> None:
        self.client, self.env, self.settings = client, env, settings
        self.engine = client._transport.app.state.engine  # type: ignore[attr-defined]

    def headers(self, kind: KeyKind = KeyKind.READ) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.env.keys[kind]}"}

    async def get(self, path: str, kind: KeyKind = KeyKind.READ, **params: Any) -> httpx.Response:
        return await self.client.get(path, params=params, headers=self.headers(kind))

    async def admin_get(self, path: str) -> httpx.Response:
        return await self.get(path, KeyKind.ADMIN)

    async def fold(self, events: Sequence[Touchpoint]) -> None:
        async with self.engine.begin() as conn:
            await fold_records(
                PostgresGraphStore(conn), [e.to_json() for e in events], rules=self.settings.lifecycle,
                facts_topic=self.settings.topics.customers,
            )

    async def profile_id(self, **identity: Any) -> str:
        response = await self.get("/v1/profiles", **identity)
        assert response.status_code == 200, response.text
        return str(response.json()["id"])


@pytest.fixture
async def api(env: Env) -> AsyncIterator[Api]:
    settings = profile_settings(env.settings, page_size_max=20)
    app = create_app(settings, engine_for(settings))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://profile") as client:
        yield Api(client, env, settings)
    await app.state.engine.dispose()


async def test_auth_matrix_on_every_route(api: Api) -> None:
    await api.fold([touchpoint("e1", customer_id="c1", email="c1@x.io")])
    pid = await api.profile_id(customer_id="c1")
    revoked = await create_key(api.engine, kind=KeyKind.READ, source="test")
    await revoke_key(api.engine, key_id=revoked.principal.key_id)
    routes: list[tuple[str, str, KeyKind, type[BaseModel]]] = [
        ("GET", f"/v1/profiles/{pid}", KeyKind.READ, ProfileBody),
        ("GET", "/v1/profiles?email=c1@x.io", KeyKind.READ, ProfileBody),
        ("GET", "/v1/profiles?stage=prospect", KeyKind.READ, ProfilePage),
        ("GET", f"/v1/profiles/{pid}/touchpoints", KeyKind.READ, TimelinePage),
        ("GET", f"/v1/profiles/{pid}/merges", KeyKind.READ, MergeHistory),
        ("GET", f"/v1/profiles/{pid}/export", KeyKind.ADMIN, ExportBody),
        ("DELETE", f"/v1/profiles/{pid}", KeyKind.ADMIN, ErasureReport),
    ]
    for method, path, needed, declared in routes:
        seen = {}
        for name, key in [
            ("none", None), ("write", api.env.keys[KeyKind.WRITE]), ("revoked", revoked.key),
            ("read", api.env.keys[KeyKind.READ]), ("admin", api.env.keys[KeyKind.ADMIN]),
        ]:
            headers = {"Authorization": f"Bearer {key}"} if key else {}
            if name == "admin" and method == "DELETE":
                continue
            response = await api.client.request(method, path, headers=headers)
            seen[name] = response.status_code
            if response.status_code >= 400:
                assert ErrorResponse.model_validate(response.json()).error.code in {"unauthorized", "forbidden"}
            else:
                declared.model_validate(response.json())  # the body is what the OpenAPI declares
        expected = {"none": 401, "write": 403, "revoked": 401, "read": 200 if needed is KeyKind.READ else 403}
        if method != "DELETE":
            expected["admin"] = 200
        assert seen == expected, (method, path)
    erased = await api.client.delete(f"/v1/profiles/{pid}", headers=api.headers(KeyKind.ADMIN))
    assert erased.status_code == 200
    ErasureReport.model_validate(erased.json())


async def test_a_merged_away_id_answers_with_the_survivor_and_its_merge_history(api: Api) -> None:
    await api.fold([touchpoint("visit", anonymous_id="cookie-7", at=NOW - timedelta(days=2))])
    anonymous = await api.profile_id(anonymous_id="cookie-7")
    await api.fold([touchpoint("login", "signed_in", anonymous_id="cookie-7", customer_id="c7", at=NOW)])
    await api.fold([touchpoint("buy", "order_completed", customer_id="c7", order=order("o1", "25"), at=NOW)])
    survivor = await api.profile_id(customer_id="c7")
    assert survivor == await api.profile_id(anonymous_id="cookie-7")
    old = await api.get(f"/v1/profiles/{anonymous}")
    assert old.status_code == 200
    body = old.json()
    if survivor != anonymous:
        assert (body["id"], body["merged_from"]) == (survivor, anonymous)
    assert body["touchpoints"]["total"] == 3 and body["stage"] == "customer"
    identities = {(i["kind"], i["value"]) for i in body["identities"]}
    assert identities == {("anonymous_id", "cookie-7"), ("customer_id", "c7")}
    merges = (await api.get(f"/v1/profiles/{survivor}/merges")).json()["merges"]
    assert body["merges"] == merges
    assert ProfileBody.model_validate(body).merges == MergeHistory.model_validate({"profile_id": survivor,
                                                                                  "merges": merges}).merges


async def test_merges_visible_when_an_anonymous_profile_joins_a_known_customer(api: Api) -> None:
    await api.fold([touchpoint("a", customer_id="c8", at=NOW - timedelta(days=3))])
    await api.fold([touchpoint("b", anonymous_id="cookie-8", at=NOW - timedelta(days=1))])
    anonymous = await api.profile_id(anonymous_id="cookie-8")
    known = await api.profile_id(customer_id="c8")
    await api.fold([touchpoint("c", anonymous_id="cookie-8", customer_id="c8", at=NOW)])
    (merge,) = (await api.get(f"/v1/profiles/{known}/merges")).json()["merges"]
    assert (merge["survivor_id"], merge["merged_id"], merge["reason"]) == (known, anonymous, "identity:anonymous_id")
    assert (await api.get(f"/v1/profiles/{anonymous}")).json()["merged_from"] == anonymous


async def test_conflicting_customer_ids_stay_apart_and_the_conflict_is_shown(api: Api) -> None:
    await api.fold([touchpoint("a", customer_id="alice", email="family@x.io")])
    await api.fold([touchpoint("b", customer_id="bob", email="family@x.io")])
    alice, bob = await api.profile_id(customer_id="alice"), await api.profile_id(customer_id="bob")
    assert alice != bob
    assert await api.profile_id(email="family@x.io") == alice
    shown = (await api.get(f"/v1/profiles/{bob}")).json()
    ProfileBody.model_validate(shown)
    (conflict,) = shown["identity_conflicts"]
    assert (conflict["kind"], conflict["held_by"], conflict["event_profile_id"]) == ("email", alice, bob)


async def test_lookups_normalize_and_refuse_junk(api: Api) -> None:
    await api.fold([touchpoint("a", email="Mixed@Case.io", phone="+49 (151) 555-0101", external={"crm": "42"})])
    pid = await api.profile_id(email=" mixed@case.IO ")
    assert await api.profile_id(phone="+4915155501 01") == pid
    assert await api.profile_id(external="crm:42") == pid
    junk = await api.get("/v1/profiles", anonymous_id="undefined")
    assert (junk.status_code, junk.json()["error"]["code"]) == (422, "junk_identity")
    missing = await api.get("/v1/profiles", email="nobody@x.io")
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "profile_not_found")
    unknown = await api.get("/v1/profiles/00000000-0000-0000-0000-000000000000")
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "profile_not_found")
    malformed = await api.get("/v1/profiles/not-a-uuid")
    assert (malformed.status_code, malformed.json()["error"]["code"]) == (422, "invalid_request")
    assert malformed.json()["error"]["path"] == "path.profile_id"
    both = await api.get("/v1/profiles", email="mixed@case.io", phone="123456")
    assert both.json()["error"]["code"] == "ambiguous_lookup"


async def test_timeline_pages_newest_first_with_an_opaque_cursor(api: Api) -> None:
    times = [NOW - timedelta(minutes=n % 7, seconds=n % 3) for n in range(45)]  # ties in time on purpose
    events = [touchpoint(f"t{n:02d}", anonymous_id="reader", at=at) for n, at in enumerate(times)]
    await api.fold(events)
    pid = await api.profile_id(anonymous_id="reader")
    seen: list[dict[str, Any]] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 500} | ({"cursor": cursor} if cursor else {})
        page = (await api.get(f"/v1/profiles/{pid}/touchpoints", **params)).json()
        assert len(page["items"]) <= 20  # capped by page_size_max
        seen += page["items"]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    order_seen = [(item["occurred_at"], item["event_key"]) for item in seen]
    assert order_seen == sorted(order_seen, reverse=True)
    assert sorted(item["touchpoint"]["id"] for item in seen) == sorted(e.id for e in events)
    bad = await api.get(f"/v1/profiles/{pid}/touchpoints", cursor="garbage!")
    assert (bad.status_code, bad.json()["error"]["code"]) == (422, "invalid_cursor")


async def test_list_filters_by_stage_segment_and_risk_with_pages(api: Api) -> None:
    old = NOW - timedelta(days=120)
    events = []
    for n in range(30):
        at = old if n % 3 == 0 else NOW
        segment = "vip" if n % 2 else "smb"
        events.append(touchpoint(f"p{n}", customer_id=f"k{n}", traits={"segment": segment}, at=at))
        if n % 5 == 0:
            events.append(touchpoint(f"o{n}", "order_completed", customer_id=f"k{n}", order=order(f"o{n}", "9"), at=at))
    await api.fold(events)

    async def everything(**params: Any) -> list[dict[str, Any]]:
        out, cursor = [], None
        while True:
            page = (await api.get("/v1/profiles", **params, **({"cursor": cursor} if cursor else {}))).json()
            out += page["items"]
            if (cursor := page["next_cursor"]) is None:
                return out

    assert len(await everything(limit=7)) == 30
    customers = await everything(stage="customer", limit=4)
    assert {p["customer_id"] for p in customers} == {f"k{n}" for n in range(30) if n % 5 == 0}
    assert {p["segment"] for p in await everything(segment="vip")} == {"vip"}
    assert len(await everything(segment="vip")) == 15
    at_risk = await everything(at_risk="true")
    assert {p["customer_id"] for p in at_risk} == {f"k{n}" for n in range(30) if n % 15 == 0}
    assert all(p["at_risk"] for p in at_risk)


async def test_erasure_removes_the_person_and_publishes_suppressions(api: Api) -> None:
    await api.fold([touchpoint("x1", anonymous_id="gone-cookie", at=NOW - timedelta(days=1))])
    await api.fold([touchpoint("x2", "order_completed", anonymous_id="gone-cookie", customer_id="gone",
                               email="Gone@X.io", order=order("o1", "5"), at=NOW)])
    pid = await api.profile_id(customer_id="gone")
    exported = await api.admin_get(f"/v1/profiles/{pid}/export")
    assert {t["touchpoint"]["id"] for t in exported.json()["touchpoints"]} == {"x1", "x2"}
    assert len(exported.json()["profile"]["identities"]) == 3

    erased = await api.client.delete(f"/v1/profiles/{pid}", headers=api.headers(KeyKind.ADMIN))
    assert erased.json() | {"erased": pid} == {"erased": pid, "profiles": erased.json()["profiles"], "identities": 3,
                                               "touchpoints": 2, "suppressions": 3}
    assert (await api.get(f"/v1/profiles/{pid}")).status_code == 404
    assert (await api.get("/v1/profiles", email="gone@x.io")).status_code == 404
    for table in ("identities", "timeline", "merges"):
        assert await scalar(api.engine, f"SELECT count(*) FROM profile.{table}") == 0
    assert await scalar(api.engine, "SELECT count(*) FROM profile.profiles") == 0
    assert await scalar(api.engine, "SELECT count(*) FROM profile.processed_events") == 2  # keys only

    producer = create_producer(api.settings)
    await producer.start()
    try:
        while await OutboxRelay(api.engine, producer).publish_once():
            pass
    finally:
        await producer.stop()
    topics = api.settings.topics
    published = await read_topic(api.settings, topics.suppressions, expect=3)
    suppressions = [Suppression.from_json(r.value) for r in published]
    expected = {fingerprint("customer_id", "gone"), fingerprint("email", "Gone@X.io"),
                fingerprint("anonymous_id", "gone-cookie")}
    assert {s.fingerprint for s in suppressions} == expected
    assert {s.erased_profile_id for s in suppressions} == {pid}
    facts = [CustomerFact.from_json(r.value) for r in await read_topic(api.settings, topics.customers, expect=3)]
    assert [f.kind for f in facts] == [FactKind.PURCHASE, FactKind.ATTRIBUTES, FactKind.ERASED]
    assert {str(f.profile_id) for f in facts} == {pid}


async def test_health_readiness_and_metrics(api: Api) -> None:
    assert (await api.client.get("/healthz")).status_code == 200
    assert (await api.client.get("/readyz")).json() == {"status": "ready"}
    await api.get("/v1/profiles/00000000-0000-0000-0000-000000000001")
    metrics = (await api.client.get("/metrics")).text
    assert 'route="/v1/profiles/{profile_id}"' in metrics
