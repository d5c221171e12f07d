"""The Segment Tracking API spec mapped onto native touchpoint events.

- identify -> identified, track -> the event name (e-commerce v2 names map onto the
  catalogue, other names become snake_case custom types), page -> page_view,
  screen -> screen_view, group -> group_joined, alias -> aliased.
- messageId -> id, userId -> identities.customer_id, anonymousId -> identities.anonymous_id,
  traits.email / traits.phone (identify: traits; other calls: context.traits) -> identities.
- alias: previousId becomes the anonymous_id (an external id `previous_id` when the message
  also carries a different anonymousId), so the event holds both identities and the
  profile links them.
- Time, as Segment documents it: originalTimestamp is the client's `timestamp` (or an
  explicit originalTimestamp); the event time is
  receivedAt - (sentAt - originalTimestamp) when the message or its batch has sentAt,
  the original timestamp when it has none, and receivedAt when there is no timestamp.
- Order Completed / Refunded / Cancelled: properties.order_id, revenue (or total),
  currency and products[] become the order and its items.
- Context is kept without the parts that identify a person or device (ip, location,
  context.traits, device ids); `integrations` and other routing fields are dropped.

Segment is lenient about fields it does not know, so unknown fields are ignored here.
"""

import re
from typing import Any

from services.ingest.domain.rejections import Code, Rejection

CALLS: dict[str, str] = {
    "identify": "identified",
    "page": "page_view",
    "screen": "screen_view",
    "group": "group_joined",
    "alias": "aliased",
}

ECOMMERCE_EVENTS: dict[str, str] = {
    "Products Searched": "products_searched",
    "Product List Viewed": "product_list_viewed",
    "Product Viewed": "product_viewed",
    "Product Clicked": "product_clicked",
    "Product Added": "product_added",
    "Product Removed": "product_removed",
    "Cart Viewed": "cart_viewed",
    "Checkout Started": "checkout_started",
    "Payment Info Entered": "payment_info_entered",
    "Order Completed": "order_completed",
    "Order Updated": "order_updated",
    "Order Refunded": "order_refunded",
    "Order Cancelled": "order_cancelled",
    "Product Reviewed": "review_submitted",
    "Signed Up": "signed_up",
    "Signed In": "signed_in",
    "Email Opened": "email_opened",
    "Email Link Clicked": "email_clicked",
    "Email Delivered": "email_sent",
}

COMMERCE_EVENTS = frozenset({"order_completed", "order_refunded", "order_cancelled"})
_ORDER_KEYS = frozenset({"order_id", "orderId", "revenue", "total", "currency", "products"})
_PRIVATE_CONTEXT = frozenset({"ip", "traits", "location"})
_PRIVATE_DEVICE = frozenset({"id", "advertisingId", "adTrackingEnabled", "token"})

_CAMEL = re.compile(r"([a-z])([A-Z])")
_NOT_WORD = re.compile(r"[^A-Za-z0-9]+")


def snake_case(name: str) -> str:
    words = _NOT_WORD.sub("_", _CAMEL.sub(r"\1_\2", name.strip())).strip("_").lower()
    if words and not words[0].isalpha():
        words = "e_" + words
    return words[:64].rstrip("_")


def event_type(event_name: object) -> str | Rejection:
    if not isinstance(event_name, str) or not event_name.strip():
        return Rejection(Code.INVALID_TYPE, "A track call needs an event name.", "event")
    mapped = ECOMMERCE_EVENTS.get(event_name.strip()) or snake_case(event_name)
    if not mapped:
        return Rejection(Code.INVALID_TYPE, "The event name must contain letters or digits.", "event")
    return mapped


def _text(value: object) -> str | None:
    if value is None or isinstance(value, dict | list | bool):
        return None
    text = str(value).strip()
    return text or None


def _money(value: object) -> object:
    return round(value, 4) if isinstance(value, float) else value


def _item(product: dict[str, Any]) -> dict[str, Any]:
    item: dict[str, Any] = {}
    for name, keys in (
        ("product_id", ("product_id", "productId", "id")),
        ("sku", ("sku",)),
        ("name", ("name",)),
        ("category", ("category",)),
    ):
        for key in keys:
            if (value := _text(product.get(key))) is not None:
                item[name] = value[:200]
                break
    if product.get("price") is not None:
        item["price"] = _money(product["price"])
    if product.get("quantity") is not None:
        item["quantity"] = product["quantity"]
    return item


def _order(properties: dict[str, Any]) -> dict[str, Any] | None:
    order_id = _text(properties.get("order_id", properties.get("orderId")))
    if order_id is None:
        return None
    order: dict[str, Any] = {"order_id": order_id}
    revenue = properties.get("revenue", properties.get("total"))
    if revenue is not None:
        order["revenue"] = _money(revenue)
    if isinstance(properties.get("currency"), str):
        order["currency"] = properties["currency"].strip().upper()
    products = properties.get("products")
    if isinstance(products, list):
        order["items"] = [_item(p) for p in products if isinstance(p, dict)]
    return order


def _context(message: dict[str, Any], batch_context: object) -> tuple[dict[str, Any], Any]:
    merged: dict[str, Any] = dict(batch_context) if isinstance(batch_context, dict) else {}
    if isinstance(message.get("context"), dict):
        merged.update(message["context"])
    traits = merged.get("traits")
    kept = {k: v for k, v in merged.items() if k not in _PRIVATE_CONTEXT}
    if isinstance(kept.get("device"), dict):
        kept["device"] = {k: v for k, v in kept["device"].items() if k not in _PRIVATE_DEVICE}
    return kept, traits


def to_native(
    message: object, *, call: str | None, batch_sent_at: object = None, batch_context: object = None
) -> dict[str, Any] | Rejection:
    """The native event a Segment message stands for; `call` is implied by the route, if any."""
    if not isinstance(message, dict):
        return Rejection(Code.INVALID_FIELD, "A message must be a JSON object.")
    kind = call or message.get("type")
    if kind != "track" and kind not in CALLS:
        return Rejection(Code.INVALID_TYPE, "type must be one of identify, track, page, screen, group, alias.", "type")
    context, context_traits = _context(message, batch_context)
    person_traits = message.get("traits") if kind == "identify" else context_traits
    event: dict[str, Any] = {"context": context}
    if (message_id := _text(message.get("messageId"))) is not None:
        event["id"] = message_id
    identities: dict[str, Any] = {}
    if (user_id := _text(message.get("userId"))) is not None:
        identities["customer_id"] = user_id
    if (anonymous_id := _text(message.get("anonymousId"))) is not None:
        identities["anonymous_id"] = anonymous_id
    if isinstance(person_traits, dict):
        event["traits"] = person_traits
        for kind_name in ("email", "phone"):
            if (value := _text(person_traits.get(kind_name))) is not None:
                identities[kind_name] = value
    if kind == "alias" and (previous := _text(message.get("previousId"))) is not None:
        if anonymous_id is None or anonymous_id == previous:
            identities["anonymous_id"] = previous
        else:
            identities["external"] = {"previous_id": previous}
    event["identities"] = identities
    original = message.get("originalTimestamp") or message.get("timestamp")
    if original is not None:
        event["occurred_at"] = original
        sent_at = message.get("sentAt") or batch_sent_at
        if sent_at is not None:
            event["sent_at"] = sent_at
    if message.get("channel") == "mobile":
        event["channel"] = "app"
    properties = message.get("properties")
    properties = dict(properties) if isinstance(properties, dict) else ({} if properties is None else properties)
    if kind == "track":
        mapped = event_type(message.get("event"))
        if isinstance(mapped, Rejection):
            return mapped
        event["type"] = mapped
        if mapped in COMMERCE_EVENTS and isinstance(properties, dict):
            if (order := _order(properties)) is not None:
                event["order"] = order
                properties = {k: v for k, v in properties.items() if k not in _ORDER_KEYS}
    else:
        event["type"] = CALLS[kind]
    if kind in ("page", "screen") and isinstance(properties, dict):
        for key in ("name", "category"):
            if (value := _text(message.get(key))) is not None:
                properties.setdefault(key, value)
    if kind == "group":
        properties = {"group_id": _text(message.get("groupId")), "group_traits": message.get("traits") or {}}
    if properties:
        event["properties"] = properties
    return event


_NATIVE_TO_SEGMENT = (
    ("identities.customer_id", "userId"),
    ("identities.anonymous_id", "anonymousId"),
    ("identities.email", "traits.email"),
    ("identities.phone", "traits.phone"),
    ("identities", "userId"),
    ("order.items", "properties.products"),
    ("order.revenue", "properties.revenue"),
    ("order.order_id", "properties.order_id"),
    ("order.currency", "properties.currency"),
    ("order", "properties.order_id"),
    ("occurred_at", "timestamp"),
    ("sent_at", "sentAt"),
    ("id", "messageId"),
)


def segment_path(path: str | None) -> str | None:
    """A native field path expressed in the Segment message's own terms."""
    if not path:
        return path
    for native, segment in _NATIVE_TO_SEGMENT:
        if path == native or path.startswith((native + ".", native + "[")):
            return segment + path[len(native) :]
    return path
