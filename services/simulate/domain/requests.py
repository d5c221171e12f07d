"""One request the simulator sends, and what it expects of each item in it."""

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any


class Api(StrEnum):
    NATIVE = "native"
    SEGMENT = "segment"

    @property
    def path(self) -> str:
        return "/v1/touchpoints" if self is Api.NATIVE else "/v1/batch"


@dataclass(frozen=True, slots=True)
class Item:
    id: str
    type: str
    valid: bool = True
    order_id: str | None = None
    amount: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Send:
    api: Api
    body: dict[str, Any]
    items: tuple[Item, ...]
    replay: bool = False

    @property
    def size(self) -> int:
        return len(self.items)
