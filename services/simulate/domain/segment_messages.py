"""A web-shop session as a Segment SDK would send it to /v1/batch."""

from datetime import datetime
from decimal import Decimal
from typing import Any

from services.simulate.domain.native_events import iso
from services.simulate.domain.people import Person
from services.simulate.domain.requests import Item

Message = tuple[dict[str, Any], Item]


def page(message_id: str, anonymous_id: str, at: datetime, category: str) -> Message:
    body = {"type": "page", "messageId": message_id, "anonymousId": anonymous_id, "name": category,
            "properties": {"path": f"/c/{category}"}, "timestamp": iso(at)}
    return body, Item(message_id, "page_view")


def product_viewed(message_id: str, anonymous_id: str, at: datetime, product: str, category: str) -> Message:
    body = {"type": "track", "event": "Product Viewed", "messageId": message_id, "anonymousId": anonymous_id,
            "properties": {"product_id": product, "category": category}, "timestamp": iso(at)}
    return body, Item(message_id, "product_viewed")


def identify(message_id: str, person: Person, anonymous_id: str, at: datetime) -> Message:
    body = {"type": "identify", "messageId": message_id, "userId": person.customer_id, "anonymousId": anonymous_id,
            "traits": {"email": person.email, "segment": person.segment}, "timestamp": iso(at)}
    return body, Item(message_id, "identified")


def order_completed(
    message_id: str, person: Person, anonymous_id: str, at: datetime, order_id: str,
    lines: list[tuple[str, str, Decimal, int]],
) -> Message:
    revenue = sum((price * qty for _, _, price, qty in lines), Decimal(0))
    body = {
        "type": "track", "event": "Order Completed", "messageId": message_id, "userId": person.customer_id,
        "anonymousId": anonymous_id, "timestamp": iso(at),
        "properties": {
            "order_id": order_id, "revenue": float(revenue), "currency": "EUR",
            "products": [
                {"product_id": product, "category": category, "price": float(price), "quantity": qty}
                for product, category, price, qty in lines
            ],
        },
    }
    return body, Item(message_id, "order_completed", order_id=order_id, amount=revenue)


def batch(messages: list[dict[str, Any]], sent_at: datetime) -> dict[str, Any]:
    return {"batch": messages, "sentAt": iso(sent_at)}
