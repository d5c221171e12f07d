from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from services.ingest.domain.rate_limit import TokenBuckets
from services.ingest.domain.rejections import Code
from services.ingest.domain.results import Outcome, status_of, summary
from services.ingest.domain.touchpoints import Accepted
from services.ingest.service_layer.intake import Api, Intake, Limits, SegmentFrame, ingest
from services.ingest.service_layer.ports import RateLimited, Unavailable, UnavailableReason
from services.ingest.telemetry import ACCEPTED, REJECTED, UNAVAILABLE
from shared.suppression import fingerprint

NOW = datetime(2026, 3, 1, tzinfo=UTC)


class FakePublisher:
    def __init__(self, *, down: UnavailableReason | None = None, failing: UnavailableReason | None = None) -> None:
        self.down, self.failing = down, failing
        self.published: list[Accepted] = []

    def check_available(self) -> None:
        if self.down is not None:
            raise Unavailable(self.down)

    async def publish(self, touchpoints: Sequence[Accepted]) -> None:
        if self.failing is not None:
            raise Unavailable(self.failing)
        self.published.extend(touchpoints)


def intake_with(publisher: FakePublisher, **kwargs: Any) -> Intake:
    ids = iter(f"gen-{i}" for i in range(1000))
    return Intake(
        publisher=publisher,
        limits=Limits(),
        rate_limits=kwargs.pop("rate_limits", TokenBuckets(rate=0, burst=1)),
        new_id=lambda: next(ids),
        **kwargs,
    )


def page(**fields: Any) -> dict[str, Any]:
    return {"type": "page_view", "identities": {"anonymous_id": "a1"}, **fields}


async def run(intake: Intake, items: list[Any], api: Api = Api.NATIVE, **kwargs: Any) -> Any:
    return await ingest(
        intake,
        items,
        api=api,
        source="shop",
        key_id="k1",
        received_at=NOW,
        batched=kwargs.pop("batched", True),
        **kwargs,
    )


def sample(metric: Any, **labels: str) -> float:
    return float(metric.labels(**labels)._value.get())


async def test_a_partly_bad_batch_publishes_only_its_accepted_items_and_answers_207() -> None:
    publisher = FakePublisher()
    results = await run(intake_with(publisher), [page(id="a"), page(id="b", channel="fax"), page(id="a"), page()])
    assert [r.outcome for r in results] == [Outcome.ACCEPTED, Outcome.REJECTED, Outcome.DUPLICATE, Outcome.ACCEPTED]
    assert [t.id for t in publisher.published] == ["a", "gen-0"]
    assert results[1].error is not None and results[1].error.path == "batch[1].channel"
    assert status_of(results) == 207
    body = summary(results)
    assert (body["accepted"], body["duplicates"], body["rejected"]) == (2, 1, 1)
    assert body["results"][3] == {"index": 3, "id": "gen-0", "status": "accepted"}


async def test_all_accepted_or_duplicate_is_202_and_all_rejected_is_422() -> None:
    publisher = FakePublisher()
    assert status_of(await run(intake_with(publisher), [page(id="x"), page(id="x")])) == 202
    assert status_of(await run(intake_with(publisher), [{"type": "page_view"}, {}])) == 422


async def test_accepted_and_rejected_are_counted_by_api_and_reason() -> None:
    before = sample(ACCEPTED, api="segment"), sample(REJECTED, reason="invalid_type")
    await run(
        intake_with(FakePublisher()),
        [{"type": "track", "event": "Signed In", "userId": "u"}, {"type": "launch"}],
        api=Api.SEGMENT,
    )
    after = sample(ACCEPTED, api="segment"), sample(REJECTED, reason="invalid_type")
    assert (after[0] - before[0], after[1] - before[1]) == (1, 1)


async def test_suppressed_identities_are_refused() -> None:
    banned = fingerprint("email", "gone@example.com")
    assert banned is not None
    publisher = FakePublisher()
    intake = intake_with(publisher, suppressed_fingerprints={banned})
    results = await run(intake, [page(identities={"email": "Gone@Example.com", "anonymous_id": "new"}), page()])
    assert results[0].error is not None and results[0].error.code is Code.SUPPRESSED
    assert [r.outcome for r in results] == [Outcome.REJECTED, Outcome.ACCEPTED]


async def test_nothing_is_accepted_when_the_broker_is_down_or_fails() -> None:
    before = sample(UNAVAILABLE, reason="timeout"), sample(ACCEPTED, api="native")
    with pytest.raises(Unavailable):
        await run(intake_with(FakePublisher(down=UnavailableReason.BROKER_DOWN)), [page()])
    with pytest.raises(Unavailable):
        await run(intake_with(FakePublisher(failing=UnavailableReason.TIMEOUT)), [page()])
    assert sample(UNAVAILABLE, reason="timeout") - before[0] == 1
    assert sample(ACCEPTED, api="native") == before[1]


async def test_a_key_over_its_rate_is_limited_before_any_work() -> None:
    publisher = FakePublisher()
    intake = intake_with(publisher, rate_limits=TokenBuckets(rate=1, burst=2), clock=lambda: 0.0)
    await run(intake, [page(), page()])
    with pytest.raises(RateLimited) as limited:
        await run(intake, [page()])
    assert limited.value.retry_after_s == pytest.approx(1.0)
    assert len(publisher.published) == 2


async def test_segment_items_are_reported_with_segment_paths() -> None:
    results = await run(
        intake_with(FakePublisher()),
        [{"event": "Order Completed", "userId": "u1", "properties": {"order_id": "o", "total": "lots"}}],
        api=Api.SEGMENT,
        frame=SegmentFrame(call="track"),
        batched=False,
    )
    error = results[0].error
    assert error is not None and (error.code, error.path) == (Code.INVALID_FIELD, "properties.revenue")


async def test_an_oversized_event_is_refused() -> None:
    intake = intake_with(FakePublisher())
    intake.limits = Limits(max_event_bytes=100)
    results = await run(intake, [page(properties={"x": "y" * 200}), page()])
    assert results[0].error is not None and results[0].error.code is Code.EVENT_TOO_LARGE
    assert results[1].outcome is Outcome.ACCEPTED


def nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(depth - 1):
        value = {"k": value}
    return value


@pytest.mark.parametrize("api", [Api.NATIVE, Api.SEGMENT])
@pytest.mark.parametrize("batched", [True, False])
async def test_too_deep_free_form_json_is_refused_shallow_is_accepted(api: Api, batched: bool) -> None:
    """Batched native events skip the depth walk when their brackets cannot nest that deep; the
    refusal must be the same either way."""
    from services.ingest.domain.nesting import MAX_DEPTH

    deep, shallow = nested(MAX_DEPTH + 1), nested(MAX_DEPTH)
    if api is Api.NATIVE:
        items = [page(id="d", context=deep), page(id="s", context=shallow), page(id="x", traits={"a": [1, {"b": 2}]})]
    else:
        items = [{"type": "page", "anonymousId": "a1", "messageId": m, "properties": p}
                 for m, p in (("d", deep), ("s", shallow), ("x", {"a": [1, {"b": 2}]}))]
    results = [
        result
        for item in items
        for result in await run(intake_with(FakePublisher()), [item], api=api, batched=batched,
                                single_size=None if batched else 100)
    ]
    assert results[0].error is not None and results[0].error.code is Code.INVALID_FIELD
    assert "nests deeper" in results[0].error.message
    assert [r.outcome for r in results[1:]] == [Outcome.ACCEPTED, Outcome.ACCEPTED]


@pytest.mark.parametrize("api", [Api.NATIVE, Api.SEGMENT])
@pytest.mark.parametrize("batched", [True, False])
async def test_properties_over_their_limit_are_refused_in_batches_and_alone(api: Api, batched: bool) -> None:
    """Properties are measured only when the whole event may exceed their limit; the refusal must
    be the same either way."""
    intake = intake_with(FakePublisher())
    intake.limits = Limits(max_properties_bytes=60)
    big, small = {"blob": "x" * 80}, {"n": 1}
    if api is Api.NATIVE:
        items = [page(id="b", properties=big), page(id="s", properties=small)]
    else:
        items = [{"type": "page", "anonymousId": "a1", "messageId": m, "properties": p}
                 for m, p in (("b", big), ("s", small))]
    results = [
        result
        for item in items
        for result in await run(intake, [item], api=api, batched=batched,
                                single_size=None if batched else len(orjson.dumps(item)))
    ]
    assert results[0].error is not None and (results[0].error.code, results[0].error.path.split(".")[-1]) == (
        Code.EVENT_TOO_LARGE, "properties")
    assert results[1].outcome is Outcome.ACCEPTED
