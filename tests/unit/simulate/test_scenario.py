from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from services.ingest.domain.validation import validate_event
from services.ingest.schemas import EventIn
from services.simulate.domain.requests import Api, Send
from services.simulate.domain.scenario import Scenario

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)


def sends(seed: int, n: int = 800) -> list[Send]:
    scenario = Scenario(seed=seed, customers=40)
    return [scenario.next_send(NOW + timedelta(seconds=i)) for i in range(n)]


def native_events(send: Send) -> list[dict[str, Any]]:
    return send.body["batch"] if "batch" in send.body else [send.body]


def test_the_same_seed_gives_the_same_requests_and_another_seed_others() -> None:
    assert [s.body for s in sends(3)] == [s.body for s in sends(3)]
    assert [s.body for s in sends(3)][:50] != [s.body for s in sends(4)][:50]


def test_the_mix_covers_every_encounter_the_brief_names() -> None:
    types = Counter(item.type for send in sends(5) for item in send.items)
    for kind in ("page_view", "product_viewed", "signed_in", "identified", "order_completed", "order_refunded",
                 "order_cancelled", "inbound_call", "outbound_call", "email_sent", "sms_sent", "statement_sent",
                 "review_submitted", "referral_made", "survey_answered", "subscription_cancelled"):
        assert types[kind] > 0, kind
    apis = Counter(send.api for send in sends(5))
    assert apis[Api.NATIVE] > apis[Api.SEGMENT] > 0


def test_every_native_event_meant_to_be_valid_passes_the_ingest_schema() -> None:
    checked = 0
    for send in sends(6):
        if send.api is not Api.NATIVE:
            continue
        for body, item in zip(native_events(send), send.items, strict=True):
            if item.valid:
                assert isinstance(validate_event(body), EventIn), body
                checked += 1
    assert checked > 1000


def test_retries_duplicates_late_and_held_back_events_are_all_in_the_mix() -> None:
    all_sends = sends(8, 1500)
    assert any(s.replay for s in all_sends)
    in_batch_twins = [s for s in all_sends if len({i.id for i in s.items}) < len(s.items)]
    assert in_batch_twins
    late = [
        e for s in all_sends if s.api is Api.NATIVE for e in native_events(s)
        if datetime.fromisoformat(e["occurred_at"].replace("Z", "+00:00")) < NOW - timedelta(hours=1)
    ]
    assert late
    first_seen: dict[str, int] = {}
    for n, send in enumerate(all_sends):
        for item in send.items:
            first_seen.setdefault(item.id, n)
    numbers = [int(i.split("-e")[-1]) for i in first_seen if "-e" in i]
    assert numbers != sorted(numbers), "some events must be sent after later ones"
    assert any(not item.valid for s in all_sends for item in s.items)


def test_refunds_and_cancellations_settle_orders_the_scenario_sent_at_most_once() -> None:
    all_sends = sends(9, 1500)
    completed = {i.order_id: i.amount for s in all_sends for i in s.items if i.type == "order_completed"}
    settled = Counter(i.order_id for s in all_sends for i in s.items if i.type in ("order_refunded", "order_cancelled")
                      if not s.replay)
    assert settled and set(settled) <= set(completed)
    for send in all_sends:
        for item in send.items:
            if item.type == "order_refunded":
                assert Decimal(0) < (item.amount or 0) <= (completed[item.order_id] or 0)
            if item.type == "order_cancelled":
                assert item.amount == completed[item.order_id]


def test_drain_held_sends_whatever_was_held_back() -> None:
    scenario = Scenario(seed=10, customers=30)
    for i in range(3000):
        scenario.next_send(NOW + timedelta(seconds=i))
        if scenario.held:
            break
    held = len(scenario.held)
    last = scenario.drain_held(NOW)
    assert held and last is not None and last.size == held and scenario.drain_held(NOW) is None
