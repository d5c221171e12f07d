"""The intake: raw JSON items in, per-item results out, accepted touchpoints durable in Kafka."""

import time
import uuid
from collections.abc import Callable, Sequence, Set
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

import orjson

from services.ingest.domain.rate_limit import TokenBuckets
from services.ingest.domain.rejections import Code, Rejection
from services.ingest.domain.results import ItemResult, Outcome
from services.ingest.domain.segment import segment_path, to_native
from services.ingest.domain.suppression import suppressed
from services.ingest.domain.touchpoints import Accepted, build_touchpoint
from services.ingest.domain.validation import validate_events
from services.ingest.schemas import EventIn
from services.ingest.service_layer.ports import Publisher, RateLimited, Unavailable
from services.ingest.telemetry import ACCEPTED, REJECTED, UNAVAILABLE


class Api(StrEnum):
    NATIVE = "native"
    SEGMENT = "segment"


@dataclass(frozen=True)
class Limits:
    max_batch_events: int = 500
    max_event_bytes: int = 32 * 1024
    max_properties_bytes: int = 8 * 1024


@dataclass
class Intake:
    publisher: Publisher
    limits: Limits
    rate_limits: TokenBuckets
    suppressed_fingerprints: Set[str] = field(default_factory=set)
    new_id: Callable[[], str] = field(default=lambda: str(uuid.uuid4()))
    clock: Callable[[], float] = time.monotonic


@dataclass(frozen=True)
class SegmentFrame:
    """What a Segment request says about all its messages."""

    call: str | None = None
    sent_at: object = None
    context: object = None


def _item_path(index: int, batched: bool) -> str:
    return f"batch[{index}]" if batched else ""


def _raw_id(raw: object, api: Api) -> str | None:
    if isinstance(raw, dict):
        value = raw.get("messageId" if api is Api.SEGMENT else "id")
        if isinstance(value, str | int) and not isinstance(value, bool):
            return str(value)
    return None


def _to_event(raw: object, api: Api, frame: SegmentFrame) -> Any:
    if api is Api.NATIVE:
        return raw
    return to_native(raw, call=frame.call, batch_sent_at=frame.sent_at, batch_context=frame.context)


def prepare(
    intake: Intake,
    items: Sequence[object],
    *,
    api: Api,
    source: str,
    received_at: datetime,
    batched: bool,
    single_size: int | None = None,
    frame: SegmentFrame = SegmentFrame(),
) -> tuple[list[ItemResult], list[Accepted]]:
    """Validate every item; decide accepted, duplicate or rejected. Pure apart from id generation."""
    outcomes: list[Accepted | Rejection | None] = []
    candidates: list[object] = []
    measures: list[tuple[int | None, int | None]] = []
    for raw in items:
        native, measured = _admissible(intake, raw, api, frame, single_size)
        if isinstance(native, Rejection):
            outcomes.append(native)
        else:
            outcomes.append(None)
            candidates.append(native)
            measures.append(measured)
    validated = iter(validate_events(candidates))
    bounds = iter(measures)
    results: list[ItemResult] = []
    accepted: list[Accepted] = []
    seen: set[str] = set()
    for index, raw in enumerate(items):
        outcome = outcomes[index]
        if outcome is None:
            measured = next(bounds)
            outcome = _touchpoint_of(intake, next(validated), source=source, received_at=received_at, measured=measured)
        if isinstance(outcome, Rejection):
            if api is Api.SEGMENT:
                outcome = Rejection(outcome.code, outcome.message, segment_path(outcome.path))
            results.append(
                ItemResult(index, _raw_id(raw, api), Outcome.REJECTED, outcome.under(_item_path(index, batched)))
            )
        elif outcome.id in seen:
            results.append(ItemResult(index, outcome.id, Outcome.DUPLICATE))
        else:
            seen.add(outcome.id)
            accepted.append(outcome)
            results.append(ItemResult(index, outcome.id, Outcome.ACCEPTED))
    return results, accepted


def _admissible(
    intake: Intake, raw: object, api: Api, frame: SegmentFrame, single_size: int | None
) -> tuple[Any, tuple[int | None, int | None]]:
    """The item as a native event to validate, or why it is refused before validation; with what
    came for free about the native event's JSON: (bound on its nesting depth, its size), each
    None when unknown (see build_touchpoint)."""
    depth_bound = size_bound = None
    if single_size is not None:
        size = single_size
        if api is Api.NATIVE:  # the body is the event
            size_bound = size
    else:
        encoded = orjson.dumps(raw)
        size = len(encoded)
        if api is Api.NATIVE:  # the event is the item itself (a Segment message gains the batch's context)
            depth_bound, size_bound = encoded.count(b"{") + encoded.count(b"["), size
    limit = intake.limits.max_event_bytes
    if size > limit:
        refused = Rejection(Code.EVENT_TOO_LARGE, f"The event is {size} bytes serialized; the limit is {limit}.")
        return refused, (None, None)
    return _to_event(raw, api, frame), (depth_bound, size_bound)


def _touchpoint_of(
    intake: Intake,
    event: EventIn | Rejection,
    *,
    source: str,
    received_at: datetime,
    measured: tuple[int | None, int | None],
) -> Accepted | Rejection:
    if isinstance(event, Rejection):
        return event
    touchpoint = build_touchpoint(
        event,
        source=source,
        received_at=received_at,
        new_id=intake.new_id,
        max_properties_bytes=intake.limits.max_properties_bytes,
        depth_bound=measured[0],
        size_bound=measured[1],
    )
    if isinstance(touchpoint, Rejection):
        return touchpoint
    if intake.suppressed_fingerprints and suppressed(touchpoint.identity_pairs(), intake.suppressed_fingerprints):
        return Rejection(
            Code.SUPPRESSED, "An identity of this event belongs to an erased person and is suppressed.", "identities"
        )
    return touchpoint


def admit(intake: Intake, *, key_id: str, cost: int) -> None:
    """Fail fast before any work: broker known down, or the key over its rate."""
    try:
        intake.publisher.check_available()
    except Unavailable as refused:
        UNAVAILABLE.labels(refused.reason.value).inc()
        raise
    wait = intake.rate_limits.take(key_id, cost, intake.clock())
    if wait > 0:
        REJECTED.labels(Code.RATE_LIMITED.value).inc()
        raise RateLimited(wait)


async def ingest(
    intake: Intake,
    items: Sequence[object],
    *,
    api: Api,
    source: str,
    key_id: str,
    received_at: datetime,
    batched: bool,
    single_size: int | None = None,
    frame: SegmentFrame = SegmentFrame(),
) -> list[ItemResult]:
    admit(intake, key_id=key_id, cost=len(items))
    results, accepted = prepare(
        intake,
        items,
        api=api,
        source=source,
        received_at=received_at,
        batched=batched,
        single_size=single_size,
        frame=frame,
    )
    for result in results:
        if result.error is not None:
            REJECTED.labels(result.error.code.value).inc()
    if accepted:
        try:
            await intake.publisher.publish(accepted)
        except Unavailable as refused:
            UNAVAILABLE.labels(refused.reason.value).inc()
            raise
        _ACCEPTED_BY_API[api].inc(len(accepted))
    return results


_ACCEPTED_BY_API = {api: ACCEPTED.labels(api.value) for api in Api}
