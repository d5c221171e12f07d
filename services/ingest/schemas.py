"""The native input schema: what a client may send to POST /v1/touchpoints.

Unknown fields are refused (`extra="forbid"`), and so are the server-owned ones
(`source`, `received_at`). Money, items, cost and feedback reuse the canonical models of
shared.events, so a validated input never needs validating twice.
"""

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from shared.catalogue import Channel, Initiator, Phase
from shared.events import CostToServe, Feedback, Order

SERVER_OWNED_FIELDS = frozenset({"source", "received_at"})
TYPE_PATTERN = r"^[a-z][a-z0-9_]*$"

EventId = Annotated[str, Field(min_length=1, max_length=100)]
EventType = Annotated[str, Field(min_length=1, max_length=64, pattern=TYPE_PATTERN)]
IdentityValue = Annotated[str, Field(max_length=200)]
ExternalName = Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_.-]+$")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class IdentitiesIn(Strict):
    customer_id: IdentityValue | None = None
    anonymous_id: IdentityValue | None = None
    email: IdentityValue | None = None
    phone: IdentityValue | None = None
    external: dict[ExternalName, IdentityValue] = Field(default_factory=dict, max_length=20)


class EventIn(Strict):
    id: EventId | None = None
    type: EventType
    initiator: Initiator | None = None
    phase: Phase | None = None
    channel: Channel | None = None
    identities: IdentitiesIn = Field(default_factory=IdentitiesIn)
    occurred_at: datetime | None = None
    sent_at: datetime | None = None
    order: Order | None = None
    cost: CostToServe | None = None
    feedback: Feedback | None = None
    referral_of: IdentitiesIn | None = None
    traits: dict[str, Any] = Field(default_factory=dict)
    traits_set_once: dict[str, Any] = Field(default_factory=dict)
    consent: dict[str, bool] = Field(default_factory=dict)
    properties: dict[str, Any] = Field(default_factory=dict)
    context: dict[str, Any] = Field(default_factory=dict)
