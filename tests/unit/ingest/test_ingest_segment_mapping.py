from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from services.ingest.domain.rejections import Code, Rejection
from services.ingest.domain.segment import segment_path, snake_case, to_native
from services.ingest.domain.touchpoints import build_touchpoint
from services.ingest.domain.validation import validate_event
from shared.events import Touchpoint

RECEIVED = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


def touchpoint(message: dict[str, Any], *, call: str | None = None, **frame: Any) -> Touchpoint:
    native = to_native(message, call=call, **frame)
    assert not isinstance(native, Rejection), native
    event = validate_event(native)
    assert not isinstance(event, Rejection), event
    tp = build_touchpoint(event, source="web", received_at=RECEIVED, new_id=lambda: "new", max_properties_bytes=8192)
    assert not isinstance(tp, Rejection), tp
    return tp.touchpoint()


def test_identify_maps_ids_traits_and_the_email_identity() -> None:
    tp = touchpoint(
        {
            "type": "identify",
            "messageId": "m1",
            "userId": 42,
            "anonymousId": "a1",
            "traits": {"email": "Ann@Example.com", "name": "Ann", "plan": "pro"},
        }
    )
    assert (tp.id, tp.type, tp.phase, tp.initiator, tp.channel) == (
        "m1",
        "identified",
        "pre_purchase",
        "customer",
        "web",
    )
    assert tp.identities.pairs() == [("customer_id", "42"), ("email", "ann@example.com"), ("anonymous_id", "a1")]
    assert tp.traits == {"email": "Ann@Example.com", "name": "Ann", "plan": "pro"}


def test_order_completed_becomes_an_order_with_items() -> None:
    tp = touchpoint(
        {
            "type": "track",
            "event": "Order Completed",
            "userId": "u1",
            "properties": {
                "order_id": "o-9",
                "total": 27.5,
                "currency": "eur",
                "coupon": "SPRING",
                "products": [
                    {
                        "product_id": 507,
                        "sku": "G-32",
                        "name": "Monopoly",
                        "price": 18.999999,
                        "quantity": 1,
                        "category": "Games",
                    }
                ],
            },
            "context": {"traits": {"email": "u1@example.com"}},
        }
    )
    assert (tp.type, tp.phase, tp.initiator, tp.channel) == ("order_completed", "purchase", "customer", "web")
    assert tp.order is not None
    assert (tp.order.order_id, tp.order.revenue, tp.order.currency) == ("o-9", Decimal("27.5"), "EUR")
    item = tp.order.items[0]
    assert (item.product_id, item.sku, item.category, item.price, item.quantity) == (
        "507",
        "G-32",
        "Games",
        Decimal("19.0"),
        1,
    )
    assert tp.properties == {"coupon": "SPRING"}
    assert tp.identities.email == "u1@example.com"


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("Product Viewed", "product_viewed"),
        ("Product List Viewed", "product_list_viewed"),
        ("Products Searched", "products_searched"),
        ("Product Added", "product_added"),
        ("Product Removed", "product_removed"),
        ("Cart Viewed", "cart_viewed"),
        ("Checkout Started", "checkout_started"),
        ("Payment Info Entered", "payment_info_entered"),
        ("Signed Up", "signed_up"),
        ("Signed In", "signed_in"),
        ("Email Opened", "email_opened"),
        ("Email Link Clicked", "email_clicked"),
        ("Product Reviewed", "review_submitted"),
        ("Webinar Attended", "webinar_attended"),
        ("videoPlaybackStarted", "video_playback_started"),
        ("2FA enabled!", "e_2fa_enabled"),
    ],
)
def test_event_names_map_onto_the_catalogue_or_snake_case(name: str, kind: str) -> None:
    assert touchpoint({"event": name, "anonymousId": "a1"}, call="track").type == kind


def test_refunds_and_cancellations_carry_their_order() -> None:
    refund = touchpoint(
        {"event": "Order Refunded", "userId": "u1", "properties": {"order_id": "o1", "total": 5}}, call="track"
    )
    assert refund.type == "order_refunded" and refund.order is not None and refund.order.revenue == Decimal(5)
    cancelled = touchpoint({"event": "Order Cancelled", "userId": "u1", "properties": {"order_id": "o2"}}, call="track")
    assert cancelled.type == "order_cancelled" and cancelled.phase == "post_purchase"


def test_page_screen_and_group() -> None:
    page = touchpoint({"type": "page", "anonymousId": "a1", "name": "Home", "properties": {"url": "https://x/"}})
    assert (page.type, page.properties) == ("page_view", {"url": "https://x/", "name": "Home"})
    screen = touchpoint({"anonymousId": "a1", "name": "Cart", "channel": "mobile"}, call="screen")
    assert (screen.type, screen.channel) == ("screen_view", "app")
    group = touchpoint({"userId": "u1", "groupId": "g1", "traits": {"industry": "retail"}}, call="group")
    assert (group.type, group.properties) == (
        "group_joined",
        {"group_id": "g1", "group_traits": {"industry": "retail"}},
    )
    assert group.traits == {}


def test_alias_carries_both_identities() -> None:
    tp = touchpoint({"previousId": "anon-7", "userId": "u1"}, call="alias")
    assert tp.type == "aliased"
    assert tp.identities.pairs() == [("customer_id", "u1"), ("anonymous_id", "anon-7")]
    other = touchpoint({"previousId": "old-user", "userId": "u1", "anonymousId": "a9"}, call="alias")
    assert other.identities.external == {"previous_id": "old-user"}


def test_event_time_is_received_minus_the_gap_between_sent_and_original() -> None:
    tp = touchpoint(
        {"anonymousId": "a1", "event": "Signed In", "timestamp": "2026-03-01T09:00:00Z"},
        call="track",
        batch_sent_at="2026-03-01T09:05:00Z",
    )
    assert tp.occurred_at == datetime(2026, 3, 1, 11, 55, tzinfo=UTC)  # received 12:00 - (09:05 - 09:00)


def test_original_timestamp_is_preferred_and_the_message_sent_at_wins_over_the_batch() -> None:
    tp = touchpoint(
        {
            "anonymousId": "a1",
            "event": "Signed In",
            "originalTimestamp": "2026-03-01T09:00:00Z",
            "timestamp": "2026-01-01T00:00:00Z",
            "sentAt": "2026-03-01T09:01:00Z",
        },
        call="track",
        batch_sent_at="2026-03-01T10:00:00Z",
    )
    assert tp.occurred_at == datetime(2026, 3, 1, 11, 59, tzinfo=UTC)


def test_without_sent_at_the_timestamp_is_taken_as_is_and_without_it_the_receive_time() -> None:
    as_is = touchpoint({"anonymousId": "a1", "event": "x", "timestamp": "2026-02-01T00:00:00Z"}, call="track")
    assert as_is.occurred_at == datetime(2026, 2, 1, tzinfo=UTC)
    assert touchpoint({"anonymousId": "a1", "event": "x"}, call="track").occurred_at == RECEIVED


def test_context_is_kept_without_personal_data() -> None:
    tp = touchpoint(
        {
            "anonymousId": "a1",
            "event": "x",
            "context": {
                "ip": "203.0.113.9",
                "location": {"city": "Oslo"},
                "traits": {"name": "Ann"},
                "locale": "nb-NO",
                "device": {"id": "dev-1", "advertisingId": "ad-1", "model": "Pixel"},
            },
        },
        call="track",
        batch_context={"library": {"name": "analytics-python"}},
    )
    assert tp.context == {"library": {"name": "analytics-python"}, "locale": "nb-NO", "device": {"model": "Pixel"}}
    assert tp.traits == {"name": "Ann"}


@pytest.mark.parametrize(
    ("message", "call", "code", "path"),
    [
        ({"type": "launch"}, None, Code.INVALID_TYPE, "type"),
        ({"anonymousId": "a1"}, "track", Code.INVALID_TYPE, "event"),
        ("not an object", "track", Code.INVALID_FIELD, None),
    ],
)
def test_unmappable_messages_are_refused(message: Any, call: str | None, code: Code, path: str | None) -> None:
    refusal = to_native(message, call=call)
    assert isinstance(refusal, Rejection)
    assert (refusal.code, refusal.path) == (code, path)


def test_native_paths_are_reported_in_segment_terms() -> None:
    assert segment_path("order.items[2].price") == "properties.products[2].price"
    assert segment_path("identities.customer_id") == "userId"
    assert segment_path("occurred_at") == "timestamp"
    assert segment_path("properties.x") == "properties.x"


def test_snake_case() -> None:
    assert snake_case("  Order  Completed ") == "order_completed"
    assert snake_case("!!!") == ""
    assert len(snake_case("a" * 100)) == 64
