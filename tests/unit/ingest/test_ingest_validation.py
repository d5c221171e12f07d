from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.ingest.domain.rejections import Code, Rejection
from services.ingest.domain.touchpoints import build_touchpoint
from services.ingest.domain.validation import validate_event
from shared.envelope import encode_touchpoint
from shared.events import Touchpoint

RECEIVED = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


def build(raw: dict[str, Any], *, max_properties_bytes: int = 8192) -> Touchpoint | Rejection:
    event = validate_event(raw)
    if isinstance(event, Rejection):
        return event
    built = build_touchpoint(
        event,
        source="shop",
        received_at=RECEIVED,
        new_id=lambda: "generated",
        max_properties_bytes=max_properties_bytes,
    )
    return built if isinstance(built, Rejection) else built.touchpoint()


def rejected(raw: dict[str, Any], **kwargs: Any) -> Rejection:
    outcome = build(raw, **kwargs)
    assert isinstance(outcome, Rejection), outcome
    return outcome


def accepted(raw: dict[str, Any]) -> Touchpoint:
    outcome = build(raw)
    assert isinstance(outcome, Touchpoint), outcome
    return outcome


def test_defaults_come_from_the_catalogue_and_the_server_fills_id_source_and_times() -> None:
    tp = accepted({"type": "inbound_call", "identities": {"phone": "+44 20 7946 0018"}})
    assert (tp.id, tp.source, tp.phase, tp.initiator, tp.channel) == (
        "generated",
        "shop",
        "post_purchase",
        "customer",
        "phone",
    )
    assert tp.occurred_at == tp.received_at == RECEIVED
    assert tp.identities.phone == "+442079460018"


def test_given_values_win_over_catalogue_defaults() -> None:
    tp = accepted(
        {
            "type": "page_view",
            "channel": "app",
            "initiator": "brand",
            "phase": "purchase",
            "identities": {"customer_id": "c1"},
        }
    )
    assert (tp.channel, tp.initiator, tp.phase) == ("app", "brand", "purchase")


def test_custom_snake_case_types_are_customer_initiated_pre_purchase_on_other() -> None:
    tp = accepted({"type": "webinar_attended", "identities": {"customer_id": "c1"}})
    assert (tp.type, tp.phase, tp.initiator, tp.channel) == ("webinar_attended", "pre_purchase", "customer", "other")


def test_identities_are_normalized_and_junk_dropped() -> None:
    tp = accepted(
        {
            "type": "page_view",
            "identities": {
                "email": "  Ann@Example.COM ",
                "anonymous_id": "undefined",
                "customer_id": "null",
                "external": {"crm": "42"},
            },
        }
    )
    assert tp.identities.pairs() == [("email", "ann@example.com"), ("external:crm", "42")]


@pytest.mark.parametrize(
    "identities", [{}, {"anonymous_id": "undefined", "email": "null", "phone": "0"}, {"email": "x"}]
)
def test_an_event_without_a_real_identity_is_refused(identities: dict[str, Any]) -> None:
    assert rejected({"type": "page_view", "identities": identities}).code is Code.MISSING_IDENTITY


def test_identities_may_not_be_left_out() -> None:
    assert rejected({"type": "page_view"}).code is Code.MISSING_IDENTITY


@pytest.mark.parametrize("kind", ["order_completed", "order_refunded", "order_cancelled"])
def test_commerce_events_need_an_order(kind: str) -> None:
    refusal = rejected({"type": kind, "identities": {"customer_id": "c1"}})
    assert (refusal.code, refusal.path) == (Code.MISSING_ORDER, "order")


def test_an_order_is_kept_with_exact_money() -> None:
    tp = accepted(
        {
            "type": "order_completed",
            "identities": {"customer_id": "c1"},
            "order": {
                "order_id": "o1",
                "revenue": 19.99,
                "currency": "EUR",
                "items": [{"sku": "s1", "price": "9.995", "quantity": 2}],
            },
        }
    )
    assert tp.order is not None
    assert (tp.order.revenue, tp.order.currency, tp.order.items[0].price) == (Decimal("19.99"), "EUR", Decimal("9.995"))


@pytest.mark.parametrize("field", ["source", "received_at"])
def test_server_owned_fields_are_refused(field: str) -> None:
    refusal = rejected({"type": "page_view", "identities": {"customer_id": "c1"}, field: "x"})
    assert (refusal.code, refusal.path) == (Code.SERVER_OWNED_FIELD, field)


def test_unknown_fields_are_refused_with_their_path() -> None:
    refusal = rejected({"type": "page_view", "identities": {"customer_id": "c1", "shoe_size": "9"}})
    assert (refusal.code, refusal.path) == (Code.UNKNOWN_FIELD, "identities.shoe_size")


@pytest.mark.parametrize("kind", ["Order Completed", "1st_visit", "x" * 65, "", None])
def test_types_must_be_snake_case(kind: Any) -> None:
    assert rejected({"type": kind, "identities": {"customer_id": "c1"}}).code is Code.INVALID_TYPE


def test_a_missing_type_is_an_invalid_type() -> None:
    assert rejected({"identities": {"customer_id": "c1"}}).code is Code.INVALID_TYPE


@pytest.mark.parametrize(
    ("fields", "path"),
    [
        ({"channel": "carrier_pigeon"}, "channel"),
        ({"occurred_at": "yesterday"}, "occurred_at"),
        ({"order": {"order_id": "o1", "currency": "euro"}}, "order.currency"),
        ({"order": {"order_id": "o1", "items": [{"quantity": -1}]}}, "order.items[0].quantity"),
        ({"feedback": {"nps": 11}}, "feedback.nps"),
        ({"id": "x" * 101}, "id"),
        ({"consent": {"email": "maybe"}}, "consent.email"),
    ],
)
def test_invalid_fields_are_refused_with_their_path(fields: dict[str, Any], path: str) -> None:
    refusal = rejected({"type": "page_view", "identities": {"customer_id": "c1"}, **fields})
    assert (refusal.code, refusal.path) == (Code.INVALID_FIELD, path)
    assert refusal.message


def test_properties_are_size_capped() -> None:
    refusal = rejected(
        {"type": "page_view", "identities": {"customer_id": "c1"}, "properties": {"p": "x" * 200}},
        max_properties_bytes=100,
    )
    assert (refusal.code, refusal.path) == (Code.EVENT_TOO_LARGE, "properties")


def test_an_event_must_be_an_object() -> None:
    assert rejected([1, 2]).code is Code.INVALID_FIELD  # type: ignore[arg-type]


def test_clock_skew_is_corrected_by_received_minus_sent() -> None:
    tp = accepted(
        {
            "type": "page_view",
            "identities": {"customer_id": "c1"},
            "occurred_at": "2026-03-01T11:00:00Z",
            "sent_at": "2026-03-01T11:30:00Z",
        }
    )
    assert tp.occurred_at == datetime(2026, 3, 1, 11, 30, tzinfo=UTC)  # the client clock ran 30 min slow
    assert tp.sent_at == datetime(2026, 3, 1, 11, 30, tzinfo=UTC)


def test_naive_times_are_utc_and_offsets_are_converted() -> None:
    naive = accepted({"type": "page_view", "identities": {"customer_id": "c1"}, "occurred_at": "2026-03-01T10:00:00"})
    offset = accepted(
        {"type": "page_view", "identities": {"customer_id": "c1"}, "occurred_at": "2026-03-01T12:00:00+02:00"}
    )
    assert naive.occurred_at == offset.occurred_at == datetime(2026, 3, 1, 10, tzinfo=UTC)


def test_referrals_need_a_real_identity() -> None:
    refusal = rejected(
        {"type": "referral_made", "identities": {"customer_id": "c1"}, "referral_of": {"email": "undefined"}}
    )
    assert (refusal.code, refusal.path) == (Code.INVALID_FIELD, "referral_of")
    tp = accepted({"type": "referral_made", "identities": {"customer_id": "c1"}, "referral_of": {"email": "B@x.io"}})
    assert tp.referral_of is not None and tp.referral_of.email == "b@x.io"


_text = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=30)


@given(
    identity=st.sampled_from(["customer_id", "anonymous_id", "email", "phone"]),
    value=_text,
    kind=st.sampled_from(["page_view", "order_completed", "survey_answered", "my_custom_type"]),
    skew=st.integers(min_value=-86_400, max_value=86_400),
    properties=st.dictionaries(
        _text,
        st.one_of(st.integers(min_value=-(2**63), max_value=2**63 - 1), _text, st.booleans(), st.none()),
        max_size=4,
    ),
)
def test_built_touchpoints_survive_the_wire_unchanged(
    identity: str, value: str, kind: str, skew: int, properties: dict[str, Any]
) -> None:
    raw: dict[str, Any] = {
        "type": kind,
        "identities": {identity: value, "anonymous_id": "a-1"},
        "properties": properties,
        "order": {"order_id": "o", "revenue": "10.5"},
        "feedback": {"nps": 9},
        "occurred_at": (RECEIVED - timedelta(hours=1)).isoformat(),
        "sent_at": (RECEIVED + timedelta(seconds=skew)).isoformat(),
    }
    tp = accepted(raw)
    again = Touchpoint.from_json(tp.to_json())
    assert again == tp
    assert encode_touchpoint(again) == encode_touchpoint(tp)
    assert Touchpoint.model_validate(tp.model_dump()) == tp


def test_nesting_deeper_than_every_consumer_reads_is_refused() -> None:
    from services.ingest.domain.nesting import MAX_DEPTH, deeper_than

    nested: object = "leaf"
    for _ in range(MAX_DEPTH):
        nested = {"k": nested}
    assert not deeper_than(nested, MAX_DEPTH)
    assert deeper_than({"k": nested}, MAX_DEPTH)
    assert deeper_than([[nested]], MAX_DEPTH)
    assert not deeper_than({"a": 1, "b": [1, 2, {"c": None}]}, 3)


def test_identities_normalize_the_same_wherever_they_stand_and_however_often_they_come() -> None:
    """Normalized identities are cached by the values sent; the cache must not mix up where they
    stand (the refusal's path) or events with external ids."""
    long_email = "İ" * 150 + "@x.io"  # 155 characters sent; lower-casing İ doubles them
    for _ in range(2):  # the second time from the cache
        assert rejected({"type": "page_view", "identities": {"email": long_email}}).path == "identities.email"
        refusal = rejected({"type": "referral_made", "identities": {"customer_id": "c1"},
                            "referral_of": {"email": long_email}})
        assert refusal.path == "referral_of.email"
        assert rejected({"type": "page_view", "identities": {"anonymous_id": "null"}}).code is Code.MISSING_IDENTITY
        tp = accepted({"type": "page_view", "identities": {"email": " Ada@X.io ", "anonymous_id": "a1"}})
        assert tp.identities.email == "ada@x.io" and tp.identities.anonymous_id == "a1"
        tp = accepted({"type": "page_view", "identities": {"email": "Ada@X.io", "external": {"crm": " 7 "}}})
        assert tp.identities.external == {"crm": "7"} and tp.identities.email == "ada@x.io"
