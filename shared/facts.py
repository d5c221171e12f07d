"""Resolved customer facts: what the profile service publishes to customers.v1 (keyed by
profile id) and the metrics service folds. One fact per state change, with a stable id so
that consumers can deduplicate permanently."""

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field


class FactKind(StrEnum):
    PURCHASE = "purchase"  # an order completed: amount = order revenue
    REFUND = "refund"  # amount refunded (positive number) for order_id
    ORDER_CANCELLED = "order_cancelled"  # the order is void: amount = the revenue it had
    COST = "cost"  # cost to serve (positive number)
    ATTRIBUTES = "attributes"  # segment / acquisition channel as resolved at occurred_at
    CANCELLATION = "cancellation"  # explicit churn: subscription or account cancelled
    MERGED = "merged"  # merged_profile_id was merged into profile_id
    ERASED = "erased"  # the person was erased: remove everything about profile_id


class CustomerFact(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    fact_id: str = Field(min_length=1, max_length=300)
    kind: FactKind
    profile_id: UUID
    occurred_at: datetime
    order_id: str | None = None
    amount: Decimal | None = None
    currency: str | None = None
    channel: str | None = None
    segment: str | None = None
    merged_profile_id: UUID | None = None

    def to_json(self) -> bytes:
        return self.model_dump_json(exclude_none=True).encode()

    @classmethod
    def from_json(cls, raw: bytes | str) -> "CustomerFact":
        return cls.model_validate_json(raw)
