"""Kafka messages the profile service publishes through its outbox: customer facts
(customers.v1, key = profile id) and suppressions (suppressions.v1)."""

from dataclasses import dataclass
from datetime import datetime

from shared.envelope import Headers, encode
from shared.facts import CustomerFact
from shared.suppression import Suppression

SOURCE = "touchpoint/profile"


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    topic: str
    key: bytes
    value: bytes
    headers: Headers


def fact_message(fact: CustomerFact, *, topic: str) -> OutboxMessage:
    record = encode(
        data=fact.to_json(),
        event_id=fact.fact_id,
        source=SOURCE,
        event_type="customer." + fact.kind.value,
        time=fact.occurred_at,
        key=str(fact.profile_id),
        subject=str(fact.profile_id),
    )
    return OutboxMessage(topic, record.key, record.value, record.headers)


def suppression_message(suppression: Suppression, *, topic: str, at: datetime) -> OutboxMessage:
    record = encode(
        data=suppression.to_json(),
        event_id=f"suppress:{suppression.fingerprint}",
        source=SOURCE,
        event_type="suppression",
        time=at,
        key=suppression.fingerprint,
    )
    return OutboxMessage(topic, record.key, record.value, record.headers)
