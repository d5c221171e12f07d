"""The single customer view as frozen values.

Every field is a commutative aggregate or a register with a deterministic winner, so the
profile of a set of events does not depend on the order they were folded in:

- counters and Decimal sums add;
- `Stamped` registers resolve by (event time, event key): last-write-wins for traits and
  consent, earliest-wins for set-once traits;
- the order ledger is keyed by order id; each entry keeps the earliest completion, the sum
  of its refunds and its earliest cancellation, so a refund or a cancellation may arrive
  before its order.

Mappings are never mutated once a value is built (the fold copies before it writes).
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True, order=True)
class Stamp:
    """When a value was written (event time), tie-broken by the writing event's key."""

    at: datetime
    by: str


@dataclass(frozen=True, slots=True)
class Stamped:
    value: Any
    stamp: Stamp


@dataclass(frozen=True, slots=True)
class Completion:
    stamp: Stamp
    revenue: Decimal
    currency: str
    channel: str
    categories: tuple[str, ...] = ()
    products: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class OrderEntry:
    completion: Completion | None = None
    refunded: Decimal = ZERO
    refunds: int = 0
    cancelled: Stamp | None = None

    @property
    def counted(self) -> bool:
        """A completed order that was not cancelled."""
        return self.completion is not None and self.cancelled is None

    @property
    def standing_revenue(self) -> Decimal:
        """What the order still contributes to net revenue."""
        if self.cancelled is not None:
            return ZERO
        return (self.completion.revenue if self.completion else ZERO) - self.refunded


def _empty() -> Mapping[str, Any]:
    return {}


@dataclass(frozen=True, slots=True)
class Profile:
    customer_id: str | None = None
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    traits: Mapping[str, Stamped] = field(default_factory=_empty)
    traits_once: Mapping[str, Stamped] = field(default_factory=_empty)
    consent: Mapping[str, Stamped] = field(default_factory=_empty)
    events: int = 0
    by_phase: Mapping[str, int] = field(default_factory=_empty)
    by_channel: Mapping[str, int] = field(default_factory=_empty)
    by_initiator: Mapping[str, int] = field(default_factory=_empty)
    by_type: Mapping[str, int] = field(default_factory=_empty)
    orders: Mapping[str, OrderEntry] = field(default_factory=_empty)
    cost: Decimal = ZERO
    agent_minutes: Decimal = ZERO
    cost_events: int = 0
    nps_scores: Mapping[str, int] = field(default_factory=_empty)  # "0".."10" -> how many
    nps_last: Stamped | None = None
    ratings: Mapping[str, int] = field(default_factory=_empty)  # "1".."5" -> how many
    reviews: int = 0
    referrals: int = 0
    subscription_started: Stamp | None = None  # the latest
    subscription_cancelled: Stamp | None = None  # the latest

    def trait_values(self) -> dict[str, Any]:
        """Traits as the API shows them: set-once traits, overridden by last-write-wins ones."""
        return {**{k: v.value for k, v in self.traits_once.items()}, **{k: v.value for k, v in self.traits.items()}}

    @property
    def segment(self) -> str | None:
        stamped = self.traits.get("segment") or self.traits_once.get("segment")
        return None if stamped is None or stamped.value is None else str(stamped.value)

    @property
    def nps_count(self) -> int:
        return sum(self.nps_scores.values())

    @property
    def promoters(self) -> int:
        return self._nps_band(9, 10)

    @property
    def detractors(self) -> int:
        return self._nps_band(0, 6)

    def _nps_band(self, low: int, high: int) -> int:
        return sum(n for score, n in self.nps_scores.items() if low <= int(score) <= high)
