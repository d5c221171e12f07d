"""Per-item outcomes of a request, and the HTTP status they add up to."""

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from services.ingest.domain.rejections import Rejection


class Outcome(StrEnum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    REJECTED = "rejected"


@dataclass(slots=True)  # not frozen: a batch builds hundreds, and frozen ones cost more each
class ItemResult:
    index: int
    id: str | None
    outcome: Outcome
    error: Rejection | None = None

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"index": self.index, "id": self.id, "status": self.outcome._value_}
        if self.error is not None:
            body["error"] = self.error.as_json()
        return body


ACCEPTED_ALL, MULTI_STATUS, REJECTED_ALL = 202, 207, 422


def status_of(results: Sequence[ItemResult]) -> int:
    """202 when nothing was rejected, 422 when everything was, 207 in between."""
    rejected = sum(1 for r in results if r.outcome is Outcome.REJECTED)
    if rejected == 0:
        return ACCEPTED_ALL
    return REJECTED_ALL if rejected == len(results) else MULTI_STATUS


def summary(results: Sequence[ItemResult]) -> dict[str, Any]:
    counts = {outcome: 0 for outcome in Outcome}
    items = []
    for r in results:
        counts[r.outcome] += 1
        items.append(r.as_json())
    return {
        "accepted": counts[Outcome.ACCEPTED],
        "duplicates": counts[Outcome.DUPLICATE],
        "rejected": counts[Outcome.REJECTED],
        "results": items,
    }
