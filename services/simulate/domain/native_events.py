"""Native touchpoint events (POST /v1/touchpoints) for each kind of encounter."""

from datetime import datetime
from decimal import Decimal
from typing import Any

from services.simulate.domain.people import Person
from services.simulate.domain.requests import Item

Event = tuple[dict[str, Any], Item]


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def money(value: Decimal) -> str:
    return f"{value:.2f}"


def browse(event_id: str, kind: str, anonymous_id: str, at: datetime, product: str, category: str) -> Event:
    body: dict[str, Any] = {"id": event_id, "type": kind, "identities": {"anonymous_id": anonymous_id},
                            "occurred_at": iso(at)}
    if kind == "product_viewed":
        body["properties"] = {"product_id": product, "category": category}
    else:
        body["properties"] = {"path": f"/c/{category}"}
    return body, Item(event_id, kind)


def signed_in(event_id: str, person: Person, anonymous_id: str, at: datetime) -> Event:
    body = {
        "id": event_id, "type": "signed_in", "occurred_at": iso(at),
        "identities": {"anonymous_id": anonymous_id, "customer_id": person.customer_id, "email": person.email},
        "traits": {"segment": person.segment, "name": f"Person {person.number}"},
        "traits_set_once": {"signup_channel": "web"},
        "consent": {"email": person.number % 3 != 0},
    }
    return body, Item(event_id, "signed_in")


def order_completed(
    event_id: str, person: Person, anonymous_id: str | None, at: datetime, order_id: str,
    lines: list[tuple[str, str, Decimal, int]], channel: str = "web",
) -> Event:
    revenue = sum((price * qty for _, _, price, qty in lines), Decimal(0))
    identities: dict[str, Any] = {"customer_id": person.customer_id}
    if anonymous_id:
        identities["anonymous_id"] = anonymous_id
    body = {
        "id": event_id, "type": "order_completed", "channel": channel, "identities": identities,
        "occurred_at": iso(at),
        "order": {
            "order_id": order_id, "revenue": money(revenue), "currency": "EUR",
            "items": [
                {"product_id": product, "category": category, "price": money(price), "quantity": qty}
                for product, category, price, qty in lines
            ],
        },
    }
    return body, Item(event_id, "order_completed", order_id=order_id, amount=revenue)


def order_settled(event_id: str, kind: str, person: Person, at: datetime, order_id: str, amount: Decimal) -> Event:
    body = {
        "id": event_id, "type": kind, "identities": {"customer_id": person.customer_id}, "occurred_at": iso(at),
        "order": {"order_id": order_id, "revenue": money(amount), "currency": "EUR"},
    }
    return body, Item(event_id, kind, order_id=order_id, amount=amount)


def call(event_id: str, kind: str, person: Person, at: datetime, minutes: float, known: bool) -> Event:
    identities: dict[str, Any] = {"phone": person.phone, "external": {"callcentre": f"caller-{person.number}"}}
    if known:
        identities["customer_id"] = person.customer_id
    cost = Decimal(round(minutes * 0.8, 2))
    body = {
        "id": event_id, "type": kind, "identities": identities, "occurred_at": iso(at),
        "cost": {"amount": money(cost), "currency": "EUR", "agent_minutes": minutes},
        "properties": {"queue": "billing" if minutes > 6 else "general"},
    }
    return body, Item(event_id, kind, amount=Decimal(money(cost)))


def campaign(event_id: str, kind: str, person: Person, at: datetime, campaign_id: str) -> Event:
    identities = {"sms_sent": {"phone": person.phone}, "statement_sent": {"customer_id": person.customer_id}}.get(
        kind, {"email": person.email}
    )
    body = {
        "id": event_id, "type": kind, "identities": identities, "occurred_at": iso(at),
        "cost": {"amount": "0.02", "currency": "EUR"}, "properties": {"campaign": campaign_id},
    }
    return body, Item(event_id, kind, amount=Decimal("0.02"))


def review(event_id: str, person: Person, at: datetime, rating: int) -> Event:
    body = {
        "id": event_id, "type": "review_submitted", "identities": {"customer_id": person.customer_id},
        "occurred_at": iso(at), "feedback": {"rating": rating, "comment": "ok" if rating > 2 else "poor"},
    }
    return body, Item(event_id, "review_submitted")


def nps(event_id: str, person: Person, at: datetime, score: int) -> Event:
    body = {
        "id": event_id, "type": "survey_answered", "identities": {"email": person.email},
        "occurred_at": iso(at), "feedback": {"nps": score},
    }
    return body, Item(event_id, "survey_answered")


def referral(event_id: str, person: Person, referred: Person, at: datetime) -> Event:
    body = {
        "id": event_id, "type": "referral_made", "identities": {"customer_id": person.customer_id},
        "occurred_at": iso(at), "referral_of": {"email": referred.email},
    }
    return body, Item(event_id, "referral_made")


def subscription_cancelled(event_id: str, person: Person, at: datetime) -> Event:
    body = {
        "id": event_id, "type": "subscription_cancelled", "identities": {"customer_id": person.customer_id},
        "occurred_at": iso(at), "properties": {"reason": "price"},
    }
    return body, Item(event_id, "subscription_cancelled")


def unlinkable(event_id: str, at: datetime) -> Event:
    """Only junk identities: ingest must reject it (missing_identity) and never accept it."""
    body = {"id": event_id, "type": "page_view", "identities": {"anonymous_id": "undefined", "email": "null"},
            "occurred_at": iso(at)}
    return body, Item(event_id, "page_view", valid=False)
