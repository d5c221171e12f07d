import base64

import pytest

from shared.auth import KeyKind, revoke_key, split_key
from shared.db import create_engine
from tests.integration.ingest.harness import Ingest, event, ingest_settings, running_ingest, until
from tests.support.stack import Env


async def post_with(ingest: Ingest, headers: dict[str, str]) -> tuple[int, str]:
    response = await ingest.client.post("/v1/touchpoints", json=event(), headers=headers)
    code = response.json().get("error", {}).get("code", "") if response.status_code >= 400 else ""
    return response.status_code, code


def basic(user: str, password: str = "") -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


async def test_no_key_is_401_with_a_challenge(ingest: Ingest) -> None:
    response = await ingest.client.post("/v1/touchpoints", json=event())
    assert response.status_code == 401 and response.json()["error"]["code"] == "unauthorized"
    assert response.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize("kind", [KeyKind.READ, KeyKind.ADMIN])
async def test_keys_of_another_kind_are_403(ingest: Ingest, kind: KeyKind) -> None:
    assert await post_with(ingest, {"Authorization": f"Bearer {ingest.env.keys[kind]}"}) == (403, "forbidden")


@pytest.mark.parametrize(
    "raw", ["tp_write_nosuchkey_secret", "garbage", "tp_write_x", ""], ids=["unknown", "garbage", "short", "empty"]
)
async def test_unknown_or_malformed_keys_are_401(ingest: Ingest, raw: str) -> None:
    assert await post_with(ingest, {"Authorization": f"Bearer {raw}"}) == (401, "unauthorized")


async def test_a_write_key_with_a_wrong_secret_is_401(ingest: Ingest) -> None:
    key_id = ingest.write_key.split("_")[2]
    assert await post_with(ingest, {"X-API-Key": f"tp_write_{key_id}_wrong-secret"}) == (401, "unauthorized")


async def test_a_write_key_works_as_bearer_header_or_basic_user(ingest: Ingest) -> None:
    for headers in (
        {"Authorization": f"Bearer {ingest.write_key}"},
        {"X-API-Key": ingest.write_key},
        {"Authorization": basic(ingest.write_key)},
    ):
        assert await post_with(ingest, headers) == (202, "")
    assert await post_with(ingest, {"Authorization": basic("", ingest.write_key)}) == (202, "")
    assert await post_with(ingest, {"Authorization": "Basic not-base64!"}) == (401, "unauthorized")


async def test_a_revoked_key_is_refused_within_the_cache_ttl(ingest: Ingest) -> None:
    assert await post_with(ingest, {"X-API-Key": ingest.write_key}) == (202, "")
    parts = split_key(ingest.write_key)
    assert parts is not None
    engine = create_engine(ingest.settings, pool_size=1)
    try:
        assert await revoke_key(engine, key_id=parts[0])
    finally:
        await engine.dispose()

    async def refused() -> bool:
        return await post_with(ingest, {"X-API-Key": ingest.write_key}) == (401, "unauthorized")

    await until(refused, timeout_s=5 * ingest.settings.key_cache_ttl_s + 2)


async def test_refusals_are_counted_by_reason(ingest: Ingest) -> None:
    await ingest.client.post("/v1/touchpoints", json=event())
    await ingest.client.post("/v1/touchpoints", json=event(), headers=ingest.auth(KeyKind.READ))
    text = (await ingest.client.get("/metrics")).text
    assert 'touchpoints_rejected_total{reason="unauthorized"}' in text
    assert 'touchpoints_rejected_total{reason="forbidden"}' in text


async def test_keys_that_cannot_be_checked_mean_503_not_401(env: Env) -> None:
    from tests.support.stack import free_port

    unreachable = f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/nowhere"
    async with running_ingest(env, ingest_settings(env, database_url=unreachable, retry_after_s=7)) as ingest:
        response = await ingest.post(event())
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "unavailable" and response.headers["Retry-After"] == "7"
