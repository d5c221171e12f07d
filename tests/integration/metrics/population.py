"""A small, seeded customer base as facts, and the same customers as the pure churn module sees them."""

import random
from dataclasses import dataclass
from datetime import date, timedelta

from services.metrics.domain.churn import CustomerLifespan, derive_lost_on
from shared.facts import CustomerFact
from shared.facts import FactKind as K
from tests.integration.metrics.harness import fact

INACTIVITY_DAYS = 90
SEGMENTS, CHANNELS = ("gold", "silver", "bronze"), ("web", "store")


@dataclass(frozen=True)
class Person:
    name: str
    segment: str
    channel: str
    purchase_days: tuple[date, ...]
    cancelled_on: date | None

    @property
    def lifespan(self) -> CustomerLifespan:
        first, last = min(self.purchase_days), max(self.purchase_days)
        lost = derive_lost_on(
            acquired_on=first, last_purchase_on=last, cancelled_on=self.cancelled_on,
            inactivity_days=INACTIVITY_DAYS, as_of=date.max,
        )
        return CustomerLifespan(first, lost)

    def group(self, by: str | None) -> str:
        if by == "segment":
            return self.segment
        if by == "channel":
            return self.channel
        if by == "cohort":
            return min(self.purchase_days).strftime("%Y-%m")
        return "all"


def people(n: int = 60, seed: int = 7) -> list[Person]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        first = date(2023, 1, 1) + timedelta(days=rng.randrange(0, 520))
        days = {first}
        for _ in range(rng.randrange(0, 5)):
            days.add(max(days) + timedelta(days=rng.randrange(1, 150)))
        cancelled = max(days) + timedelta(days=rng.randrange(0, 60)) if rng.random() < 0.25 else None
        out.append(Person(f"p{i}", rng.choice(SEGMENTS), rng.choice(CHANNELS), tuple(sorted(days)), cancelled))
    return out


def facts_of(person: Person, rng: random.Random) -> list[CustomerFact]:
    facts = [fact(f"{person.name}-attr", K.ATTRIBUTES, person.name, "2022-12-01", segment=person.segment,
                  channel=person.channel)]
    for j, day in enumerate(person.purchase_days):
        for k in range(rng.choice((1, 1, 2))):  # sometimes two orders on one day
            facts.append(fact(f"{person.name}-o{j}-{k}", K.PURCHASE, person.name, day.isoformat(),
                              f"{rng.randrange(5, 200)}.{rng.randrange(0, 100):02d}", order_id=f"{j}-{k}"))
        if rng.random() < 0.2:
            facts.append(fact(f"{person.name}-r{j}", K.REFUND, person.name, (day + timedelta(days=3)).isoformat(),
                              "5.00", order_id=f"{j}-0"))
        if rng.random() < 0.3:
            facts.append(fact(f"{person.name}-c{j}", K.COST, person.name, day.isoformat(), "2.50"))
    if person.cancelled_on:
        facts.append(fact(f"{person.name}-x", K.CANCELLATION, person.name, person.cancelled_on.isoformat()))
    return facts


def all_facts(persons: list[Person], seed: int = 11) -> list[CustomerFact]:
    rng = random.Random(seed)
    facts = [f for p in persons for f in facts_of(p, rng)]
    rng.shuffle(facts)  # order must not matter
    return facts
