"""Touchpoints for profile tests: a factory, and a world of people whose events link their
identities (anonymous visits, then sign-ins and purchases) without ever sharing one."""

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from shared.catalogue import Channel, defaults_for
from shared.events import CostToServe, Feedback, Identities, Item, Order, Touchpoint

T0 = datetime(2025, 1, 1, tzinfo=UTC)


def touchpoint(
    event_id: str,
    event_type: str = "page_view",
    *,
    at: datetime = T0,
    source: str = "test",
    channel: str | None = None,
    customer_id: str | None = None,
    anonymous_id: str | None = None,
    email: str | None = None,
    phone: str | None = None,
    external: dict[str, str] | None = None,
    order: Order | None = None,
    cost: CostToServe | None = None,
    feedback: Feedback | None = None,
    traits: dict[str, Any] | None = None,
    traits_set_once: dict[str, Any] | None = None,
    consent: dict[str, bool] | None = None,
) -> Touchpoint:
    phase, initiator, default_channel = defaults_for(event_type)
    return Touchpoint(
        id=event_id,
        source=source,
        type=event_type,
        initiator=initiator,
        phase=phase,
        channel=Channel(channel) if channel else default_channel,
        identities=Identities(
            customer_id=customer_id, anonymous_id=anonymous_id, email=email, phone=phone, external=external or {}
        ),
        occurred_at=at,
        received_at=at,
        order=order,
        cost=cost,
        feedback=feedback,
        traits=traits or {},
        traits_set_once=traits_set_once or {},
        consent=consent or {},
    )


def order(order_id: str, revenue: str = "0", *items: tuple[str, str]) -> Order:
    """An order; items as (product id, category)."""
    return Order(
        order_id=order_id,
        revenue=Decimal(revenue),
        items=tuple(Item(product_id=p, category=c, price=Decimal(revenue)) for p, c in items),
    )


JUNK = ["null", "undefined", "0", " ", "N/A"]
TYPES = [
    "page_view", "product_viewed", "email_opened", "inbound_call", "order_completed", "order_completed",
    "order_refunded", "order_cancelled", "review_submitted", "survey_answered", "referral_made",
    "subscription_started", "subscription_cancelled", "signed_in",
]


@dataclass(frozen=True)
class Person:
    number: int
    customer_id: str | None
    email: str | None
    anonymous_ids: tuple[str, ...]

    def identity_kwargs(self, rng: random.Random) -> dict[str, Any]:
        """A non-empty subset of this person's identities, sometimes with a junk value added."""
        options: list[tuple[str, str]] = [("anonymous_id", a) for a in self.anonymous_ids]
        if self.customer_id:
            options.append(("customer_id", self.customer_id))
        if self.email:
            options.append(("email", self.email))
        chosen = dict(rng.sample(options, rng.randint(1, min(2, len(options)))))
        if rng.random() < 0.1:
            kind = rng.choice(["email", "phone", "anonymous_id"])
            chosen.setdefault(kind, rng.choice(JUNK))
        return chosen


def people(count: int, rng: random.Random) -> list[Person]:
    return [
        Person(
            number=n,
            customer_id=f"cust-{n}" if rng.random() < 0.7 else None,
            email=f"person{n}@example.com" if rng.random() < 0.6 else None,
            anonymous_ids=tuple(f"anon-{n}-{k}" for k in range(rng.randint(1, 2))),
        )
        for n in range(count)
    ]


def world_events(count: int, *, people_count: int, seed: int, minutes: int = 60 * 24 * 400) -> list[Touchpoint]:
    """`count` events of `people_count` people, ids unique, times in a window of `minutes`."""
    rng = random.Random(seed)
    crowd = people(people_count, rng)
    out = []
    for n in range(count):
        person = rng.choice(crowd)
        event_type = rng.choice(TYPES)
        at = T0 + timedelta(minutes=rng.randrange(minutes))
        kwargs: dict[str, Any] = person.identity_kwargs(rng)
        if event_type.startswith("order_"):
            kwargs["order"] = order(
                f"o-{person.number}-{rng.randrange(4)}", str(rng.randrange(1, 500)),
                (f"p{rng.randrange(5)}", f"cat{rng.randrange(3)}"),
            )
        if event_type == "inbound_call":
            agent_minutes = rng.choice([1.5, 2.25, 7.0])
            kwargs["cost"] = CostToServe(amount=Decimal(rng.randrange(1, 20)), agent_minutes=agent_minutes)
        if event_type == "survey_answered":
            kwargs["feedback"] = Feedback(nps=rng.randrange(11))
        if event_type == "review_submitted":
            kwargs["feedback"] = Feedback(rating=rng.randrange(1, 6))
        if rng.random() < 0.2:
            kwargs["traits"] = {"segment": rng.choice(["smb", "enterprise", "consumer"]), "plan": rng.randrange(3)}
        if rng.random() < 0.1:
            kwargs["traits_set_once"] = {"first_referrer": rng.choice(["ads", "friend"])}
        if rng.random() < 0.1:
            kwargs["consent"] = {"email": rng.random() < 0.5}
        out.append(touchpoint(f"e{n}", event_type, at=at, **kwargs))
    return out
