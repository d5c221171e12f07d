"""One write key over its rate limit gets 429 with Retry-After, while another key is still
served; the flooding key is served again once it waited as told."""

import asyncio
import uuid
from collections import Counter

import httpx
import pytest

from services.ingest.bootstrap import build_app
from services.ingest.config import IngestSettings
from shared.auth import KeyKind, create_key
from shared.db import create_engine
from tests.support.stack import Env

pytestmark = pytest.mark.e2e


def event() -> dict[str, object]:
    return {"id": f"flood-{uuid.uuid4()}", "type": "page_view", "identities": {"anonymous_id": "flood"}}


async def test_a_flooding_key_is_limited_while_another_key_is_served(env: Env) -> None:
    engine = create_engine(env.settings, pool_size=1)
    try:
        other = (await create_key(engine, kind=KeyKind.WRITE, source="other-shop")).key
    finally:
        await engine.dispose()
    flooder = env.keys[KeyKind.WRITE]
    settings = IngestSettings(**{**env.settings.model_dump(), "rate_limit_events_per_s": 5.0, "rate_limit_burst": 10})
    app = build_app(settings)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ingest") as client:

            async def post(key: str) -> httpx.Response:
                return await client.post("/v1/touchpoints", json=event(), headers={"authorization": f"Bearer {key}"})

            flood = await asyncio.gather(*(post(flooder) for _ in range(40)))
            statuses = Counter(r.status_code for r in flood)
            limited = [r for r in flood if r.status_code == 429]
            assert statuses[202] >= 1 and len(limited) >= 20, statuses
            for response in limited:
                assert response.json()["error"]["code"] == "rate_limited"
                assert int(response.headers["retry-after"]) >= 1
            assert (await post(other)).status_code == 202
            still = await post(flooder)
            assert still.status_code == 429
            await asyncio.sleep(int(still.headers["retry-after"]))
            assert (await post(flooder)).status_code == 202
