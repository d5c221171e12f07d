"""The seeded mix of encounters, as a stream of requests.

Same seed, same requests. The mix: web-shop sessions (anonymous browsing, sign-in linking the
cookie to the account and email, orders with items and categories; a quarter of them through
the Segment API), refunds and cancellations of earlier orders, call-centre contacts with
cost to serve, brand campaigns, reviews, referrals, NPS answers, subscription cancellations.
Realism that the platform must absorb: client retries that resend a whole request with the
same ids, the same id twice in one batch, late events (occurred days ago), events held back
and sent out of order, and a few events that only carry junk identities (ingest must reject
them)."""

import random
from collections import deque
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from services.simulate.domain import native_events as native
from services.simulate.domain import segment_messages as segment
from services.simulate.domain.people import CATEGORIES, Person, population
from services.simulate.domain.requests import Api, Item, Send

Line = tuple[str, str, Decimal, int]

MIX: tuple[tuple[str, float], ...] = (
    ("web_session", 0.40),
    ("settle_order", 0.07),
    ("call_centre", 0.12),
    ("campaign", 0.13),
    ("review", 0.05),
    ("referral", 0.04),
    ("nps", 0.06),
    ("subscription_cancelled", 0.02),
    ("release_held", 0.08),
    ("replay", 0.03),
)


class Scenario:
    def __init__(self, *, seed: int, customers: int, run: str | None = None) -> None:
        self.rng = random.Random(seed)
        self.run = run or f"s{seed}"
        self.people: list[Person] = population(self.run, max(2, customers))
        self.orders: dict[int, list[tuple[str, Decimal]]] = {}
        self.settled: set[str] = set()
        self.held: list[dict[str, Any]] = []
        self.held_items: list[Item] = []
        self.recent: deque[Send] = deque(maxlen=50)
        self.counter = 0
        self.kinds, self.weights = zip(*MIX, strict=True)

    def _id(self, letter: str = "e") -> str:
        self.counter += 1
        return f"{self.run}-{letter}{self.counter}"

    def _person(self) -> Person:
        if self.rng.random() < 0.3:  # regulars come back often
            return self.people[self.rng.randrange(max(1, len(self.people) // 10))]
        return self.rng.choice(self.people)

    def _when(self, now: datetime) -> datetime:
        if self.rng.random() < 0.08:
            return now - timedelta(seconds=self.rng.uniform(3600, 20 * 86400))
        return now - timedelta(seconds=self.rng.uniform(0, 2))

    def _lines(self) -> list[Line]:
        return [
            (f"p{self.rng.randrange(500)}", self.rng.choice(CATEGORIES),
             Decimal(self.rng.randrange(199, 20000)) / 100, self.rng.choice((1, 1, 1, 2, 3)))
            for _ in range(self.rng.choice((1, 1, 2, 3)))
        ]

    def next_send(self, now: datetime) -> Send:
        kind = self.rng.choices(self.kinds, self.weights)[0]
        if kind == "replay" and self.recent:
            original = self.rng.choice(self.recent)
            return Send(original.api, original.body, original.items, replay=True)
        if kind == "release_held" and self.held:
            return self._native([], now)
        if kind == "web_session" and self.rng.random() < 0.25:
            return self._remember(self._segment_session(now))
        builders = {
            "web_session": self._web_session, "settle_order": self._settle_order,
            "call_centre": self._call_centre, "campaign": self._campaign, "review": self._review,
            "referral": self._referral, "nps": self._nps, "subscription_cancelled": self._subscription_cancelled,
        }
        return self._native(builders.get(kind, self._web_session)(now), now)

    def _remember(self, send: Send) -> Send:
        self.recent.append(send)
        return send

    def _native(self, events: list[native.Event], now: datetime) -> Send:
        bodies = [body for body, _ in events]
        items = [item for _, item in events]
        if self.held and (not events or self.rng.random() < 0.1):
            take = self.rng.randint(1, min(5, len(self.held)))
            bodies += self.held[:take]
            items += self.held_items[:take]
            del self.held[:take], self.held_items[:take]
        kept_bodies, kept_items = [], []
        for body, item in zip(bodies, items, strict=True):
            if len(bodies) > 1 and item.valid and self.rng.random() < 0.05:
                self.held.append(body)
                self.held_items.append(item)
            else:
                kept_bodies.append(body)
                kept_items.append(item)
        if self.rng.random() < 0.01:
            body, item = native.unlinkable(self._id("x"), now)
            kept_bodies.append(body)
            kept_items.append(item)
        if kept_bodies and self.rng.random() < 0.2:
            order = list(range(len(kept_bodies)))
            self.rng.shuffle(order)
            kept_bodies = [kept_bodies[i] for i in order]
            kept_items = [kept_items[i] for i in order]
        if kept_bodies and self.rng.random() < 0.03:
            twin = self.rng.randrange(len(kept_bodies))
            kept_bodies.append(kept_bodies[twin])
            kept_items.append(kept_items[twin])
        if not kept_bodies:
            body, item = native.browse(self._id(), "page_view", f"{self.run}-anon-idle", now, "p0", CATEGORIES[0])
            kept_bodies, kept_items = [body], [item]
        sent_at = native.iso(now)
        if len(kept_bodies) == 1 and self.rng.random() < 0.3:
            payload: dict[str, Any] = {**kept_bodies[0], "sent_at": sent_at}
        else:
            payload = {"batch": [{**b, "sent_at": sent_at} for b in kept_bodies]}
        return self._remember(Send(Api.NATIVE, payload, tuple(kept_items)))

    def _browsing(self, now: datetime, anonymous_id: str) -> list[native.Event]:
        start = self._when(now)
        return [
            native.browse(self._id(), self.rng.choice(("page_view", "product_viewed")), anonymous_id,
                          start + timedelta(seconds=i), f"p{self.rng.randrange(500)}", self.rng.choice(CATEGORIES))
            for i in range(self.rng.randint(1, 4))
        ]

    def _web_session(self, now: datetime) -> list[native.Event]:
        person = self._person()
        anonymous_id = f"{self.run}-anon{self._id('a')}"
        events = self._browsing(now, anonymous_id)
        if self.rng.random() < 0.3:
            return events  # a prospect who never signs in
        at = now - timedelta(milliseconds=self.rng.randrange(1000))
        events.append(native.signed_in(self._id(), person, anonymous_id, at))
        if self.rng.random() < 0.55:
            order_id = f"{self.run}-o{self._id('o')}"
            event = native.order_completed(self._id(), person, anonymous_id, at, order_id, self._lines(),
                                           channel=self.rng.choice(("web", "web", "app", "store")))
            events.append(event)
            self.orders.setdefault(person.number, []).append((order_id, event[1].amount or Decimal(0)))
        return events

    def _segment_session(self, now: datetime) -> Send:
        person = self._person()
        anonymous_id = f"{self.run}-anon{self._id('a')}"
        at = self._when(now)
        messages = [
            segment.page(self._id("m"), anonymous_id, at, self.rng.choice(CATEGORIES)),
            segment.product_viewed(self._id("m"), anonymous_id, at + timedelta(seconds=1),
                                   f"p{self.rng.randrange(500)}", self.rng.choice(CATEGORIES)),
            segment.identify(self._id("m"), person, anonymous_id, at + timedelta(seconds=2)),
        ]
        if self.rng.random() < 0.5:
            order_id = f"{self.run}-o{self._id('o')}"
            message = segment.order_completed(self._id("m"), person, anonymous_id, at + timedelta(seconds=3),
                                              order_id, self._lines())
            messages.append(message)
            self.orders.setdefault(person.number, []).append((order_id, message[1].amount or Decimal(0)))
        body = segment.batch([m for m, _ in messages], now)
        return Send(Api.SEGMENT, body, tuple(item for _, item in messages))

    def _settle_order(self, now: datetime) -> list[native.Event]:
        open_orders = [(n, o) for n, orders in self.orders.items() for o in orders if o[0] not in self.settled]
        if not open_orders:
            return self._web_session(now)
        number, (order_id, revenue) = open_orders[self.rng.randrange(len(open_orders))]
        self.settled.add(order_id)
        person = self.people[number]
        if self.rng.random() < 0.6:
            amount = (revenue * Decimal(self.rng.choice((25, 50, 100))) / 100).quantize(Decimal("0.01"))
            return [native.order_settled(self._id(), "order_refunded", person, now, order_id, amount)]
        return [native.order_settled(self._id(), "order_cancelled", person, now, order_id, revenue)]

    def _call_centre(self, now: datetime) -> list[native.Event]:
        person = self._person()
        kind = "inbound_call" if self.rng.random() < 0.7 else "outbound_call"
        minutes = round(self.rng.uniform(1, 15), 1)
        return [native.call(self._id(), kind, person, self._when(now), minutes, self.rng.random() < 0.5)]

    def _campaign(self, now: datetime) -> list[native.Event]:
        kind = self.rng.choice(("email_sent", "email_sent", "sms_sent", "statement_sent"))
        campaign_id = self._id("k")
        at = self._when(now)
        recipients = self.rng.sample(self.people, min(len(self.people), self.rng.randint(3, 20)))
        return [native.campaign(self._id(), kind, person, at, campaign_id) for person in recipients]

    def _review(self, now: datetime) -> list[native.Event]:
        return [native.review(self._id(), self._person(), self._when(now), self.rng.randint(1, 5))]

    def _referral(self, now: datetime) -> list[native.Event]:
        person, referred = self.rng.sample(self.people, 2)
        return [native.referral(self._id(), person, referred, self._when(now))]

    def _nps(self, now: datetime) -> list[native.Event]:
        return [native.nps(self._id(), self._person(), self._when(now), self.rng.randint(0, 10))]

    def _subscription_cancelled(self, now: datetime) -> list[native.Event]:
        return [native.subscription_cancelled(self._id(), self._person(), self._when(now))]

    def drain_held(self, now: datetime) -> Send | None:
        """The events still held back, as one last request (so every generated event is sent)."""
        if not self.held:
            return None
        bodies, items = self.held, self.held_items
        self.held, self.held_items = [], []
        sent_at = native.iso(now)
        return Send(Api.NATIVE, {"batch": [{**b, "sent_at": sent_at} for b in bodies]}, tuple(items))
