"""The CDNOW sample (2,357 customers, Fader & Hardie) as PURCHASE facts."""

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from shared.facts import CustomerFact, FactKind

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "CDNOW_sample.txt"


def cdnow_profile(customer: str) -> uuid.UUID:
    return uuid.uuid5(uuid.NAMESPACE_URL, f"cdnow:{customer}")


def cdnow_facts() -> list[CustomerFact]:
    facts = []
    for line_no, line in enumerate(SAMPLE.read_text().splitlines()):
        _, customer, day, _, dollars = line.split()
        facts.append(CustomerFact(
            fact_id=f"cdnow-{line_no}", kind=FactKind.PURCHASE, profile_id=cdnow_profile(customer),
            occurred_at=datetime.strptime(day, "%Y%m%d").replace(hour=12, tzinfo=UTC),
            order_id=str(line_no), amount=Decimal(dollars), channel="web",
        ))
    return facts
