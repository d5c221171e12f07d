"""The canonical touchpoint: what ingest publishes to touchpoints.v1 and every consumer reads.

The wire form is the JSON of `Touchpoint` (money as decimal strings, times in ISO 8601 UTC).
Clients never send this model directly: ingest builds it from the native or Segment API
after validation, stamping the server-owned fields (source, received_at).
"""

from datetime import datetime
from decimal import Decimal
from functools import cached_property
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from shared.catalogue import Channel, Initiator, Phase
from shared.identities import STRENGTH, IdentityKind

Money = Annotated[Decimal, Field(max_digits=18, decimal_places=4)]
ShortText = Annotated[str, Field(min_length=1, max_length=200)]


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Identities(Frozen):
    customer_id: ShortText | None = None
    anonymous_id: ShortText | None = None
    email: ShortText | None = None
    phone: ShortText | None = None
    external: dict[str, ShortText] = Field(default_factory=dict)

    def pairs(self) -> list[tuple[str, str]]:
        """(kind, value) pairs, strongest first; external ids as ('external:<name>', value)."""
        out: list[tuple[str, str]] = []
        for kind in STRENGTH:
            if kind is IdentityKind.EXTERNAL:
                out.extend((f"external:{name}", value) for name, value in sorted(self.external.items()))
            else:
                value = getattr(self, kind.value)
                if value is not None:
                    out.append((kind.value, value))
        return out

    def partition_key(self) -> str:
        pairs = self.pairs()
        return f"{pairs[0][0]}:{pairs[0][1]}" if pairs else ""


class Item(Frozen):
    product_id: ShortText | None = None
    sku: ShortText | None = None
    name: ShortText | None = None
    category: ShortText | None = None
    price: Money = Decimal(0)
    quantity: int = Field(default=1, ge=0, le=1_000_000)


class Order(Frozen):
    order_id: ShortText
    revenue: Money = Decimal(0)
    currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$")
    items: tuple[Item, ...] = ()


class CostToServe(Frozen):
    amount: Money = Decimal(0)
    currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$")
    agent_minutes: float | None = Field(default=None, ge=0, le=100_000)


class Feedback(Frozen):
    nps: int | None = Field(default=None, ge=0, le=10)
    rating: int | None = Field(default=None, ge=1, le=5)
    comment: str | None = Field(default=None, max_length=2000)


class Touchpoint(Frozen):
    id: Annotated[str, Field(min_length=1, max_length=100)]
    source: ShortText
    type: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_]*$")]
    initiator: Initiator
    phase: Phase
    channel: Channel
    identities: Identities
    occurred_at: datetime
    received_at: datetime
    sent_at: datetime | None = None
    order: Order | None = None
    cost: CostToServe | None = None
    feedback: Feedback | None = None
    referral_of: Identities | None = None
    traits: dict[str, Any] = Field(default_factory=dict)
    traits_set_once: dict[str, Any] = Field(default_factory=dict)
    consent: dict[str, bool] = Field(default_factory=dict)
    properties: dict[str, Any] = Field(default_factory=dict)
    context: dict[str, Any] = Field(default_factory=dict)

    @cached_property  # read several times per event by the fold
    def dedup_key(self) -> str:
        return f"{self.source}\x1f{self.id}"

    def to_json(self) -> bytes:
        return self.model_dump_json(exclude_defaults=True).encode()

    @classmethod
    def from_json(cls, raw: bytes | str) -> "Touchpoint":
        return cls.model_validate_json(raw)
