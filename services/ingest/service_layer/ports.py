"""What the intake needs from the outside world, and how that world says no."""

from collections.abc import Sequence
from enum import StrEnum
from typing import Protocol

from services.ingest.domain.touchpoints import Accepted


class UnavailableReason(StrEnum):
    BROKER_DOWN = "broker_down"
    OVERLOADED = "overloaded"
    TIMEOUT = "timeout"


class Unavailable(Exception):
    """The touchpoints could not be made durable; nothing may be answered 2xx."""

    def __init__(self, reason: UnavailableReason) -> None:
        super().__init__(reason.value)
        self.reason = reason


class RateLimited(Exception):
    def __init__(self, retry_after_s: float) -> None:
        super().__init__(f"retry after {retry_after_s:.3f}s")
        self.retry_after_s = retry_after_s


class Publisher(Protocol):
    def check_available(self) -> None:
        """Raise Unavailable at once when the broker is known to be unreachable."""

    async def publish(self, touchpoints: Sequence[Accepted]) -> None:
        """Return only when the broker acknowledged every record; else raise Unavailable."""
