"""What the platform acknowledged: one line per (source, id) that got a 2xx, with enough
of the event (type, order id, amount) for a reconciliation to check the folds."""

from dataclasses import asdict, dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

import orjson


class Expect(StrEnum):
    FOLD = "fold"  # valid at ingest: must be folded exactly once
    DLQ = "dlq"  # a broken record produced straight to the topic: must sit in the dead-letter topic


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    source_key: str  # the write key's id (resolved to its source by the checker), or "source:<name>"
    id: str
    type: str
    api: str  # native | segment | broken_producer
    status: str  # accepted | duplicate (within its batch)
    expect: Expect = Expect.FOLD
    order_id: str | None = None
    amount: str | None = None  # decimal string: order revenue, refund or cancelled amount, cost

    @property
    def decimal_amount(self) -> Decimal:
        return Decimal(self.amount) if self.amount is not None else Decimal(0)

    def to_line(self) -> bytes:
        body = {k: v for k, v in asdict(self).items() if v is not None}
        return orjson.dumps(body) + b"\n"

    @classmethod
    def from_line(cls, line: bytes | str) -> "LedgerEntry":
        body: dict[str, Any] = orjson.loads(line)
        body["expect"] = Expect(body.get("expect", Expect.FOLD))
        return cls(**body)
