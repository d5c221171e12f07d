from sqlalchemy import text

from shared.db import create_engine
from shared.kafka import create_producer
from shared.suppression import Suppression, fingerprint
from tests.integration.ingest.harness import Ingest, event, running_ingest, until
from tests.support.stack import Env


def erased(email: str) -> Suppression:
    print_ = fingerprint("email", email)
    assert print_ is not None
    return Suppression(fingerprint=print_, erased_profile_id="3f1c3c3e-0000-4000-8000-000000000001")


async def test_an_identity_suppressed_on_the_topic_is_refused_within_seconds(ingest: Ingest) -> None:
    person = event(identities={"email": "Gone@Example.com", "anonymous_id": "device-9"})
    assert (await ingest.post(person)).status_code == 202
    producer = create_producer(ingest.settings)
    await producer.start()
    try:
        await producer.send_and_wait(ingest.settings.topics.suppressions, erased("gone@example.com").to_json())
    finally:
        await producer.stop()

    async def refused() -> bool:
        response = await ingest.post(person)
        return response.status_code == 422 and response.json()["results"][0]["error"]["code"] == "suppressed"

    await until(refused, timeout_s=10)
    other = await ingest.post(event(identities={"email": "still.here@example.com"}))
    assert other.status_code == 202
    engine = create_engine(ingest.settings, pool_size=1)
    try:
        async with engine.connect() as conn:
            stored = (await conn.execute(text("SELECT fingerprint FROM ingest.suppressions"))).scalars().all()
    finally:
        await engine.dispose()
    assert stored == [erased("gone@example.com").fingerprint]


async def test_a_starting_service_loads_suppressions_from_its_table(env: Env) -> None:
    engine = create_engine(env.settings, pool_size=1)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                text("INSERT INTO ingest.suppressions (fingerprint, erased_profile_id) VALUES (:f, 'p')"),
                {"f": erased("old@example.com").fingerprint},
            )
    finally:
        await engine.dispose()
    async with running_ingest(env) as ingest:
        response = await ingest.post(event(identities={"email": "OLD@example.com"}))
        assert response.status_code == 422
        assert response.json()["results"][0]["error"]["code"] == "suppressed"
