"""Reconciling what the platform acknowledged with what it folded. Pure: the observations
come in as plain values, the verdict goes out as one.

- lost: an acknowledged event that was neither folded (its dedup key is not in the
  profile's processed events) nor dead-lettered; a broken record not dead-lettered.
- duplicated: an event key held more than once in the timeline, or both folded and
  dead-lettered.
- money and counts: sums over the timeline (the stored event log) equal the sums over the
  profiles (events, gross, refunded, cancelled, cost); the metrics service agrees with the
  profiles on net revenue, cost to serve and the number of buyers (customers with an order
  that is completed and not cancelled). Gross and cancelled amounts are compared too but only
  noted: the facts of an order cancelled before its completion arrived carry neither the
  purchase nor the cancellation, so the split (not the net) depends on arrival order.
"""

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from services.simulate.domain.ledger import Expect, LedgerEntry

SEP = "\x1f"


@dataclass(frozen=True)
class Totals:
    """Money and counts of one view of the state (the timeline, the profiles, or metrics)."""

    events: int = 0
    gross: Decimal = Decimal(0)
    refunded: Decimal = Decimal(0)
    cancelled: Decimal = Decimal(0)
    cost: Decimal = Decimal(0)
    buyers: int = 0  # customers with at least one order completed and not cancelled
    net: Decimal = Decimal(0)  # revenue that stands, by the view's own definition


@dataclass(frozen=True)
class Observed:
    folded_keys: frozenset[str]  # profile.processed_events of this run
    dead_keys: Counter[str]  # dedup keys (or source+ce_id) of dead-lettered records, with repeats
    timeline_repeats: Mapping[str, int]  # event keys held more than once in the timeline
    timeline: Totals
    profiles: Totals
    metrics: Totals | None = None


@dataclass(frozen=True)
class Verdict:
    acked: int
    lost: int
    duplicated: int
    dlq: int
    dlq_redelivered: int
    expected_dlq_missing: int
    mismatches: tuple[str, ...] = ()
    lost_examples: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return self.lost == 0 and self.duplicated == 0 and not self.mismatches


def dedup_key(sources: Mapping[str, str], entry: LedgerEntry) -> str:
    kind, _, name = entry.source_key.partition(":")
    source = name if kind == "source" else sources.get(name, f"?{name}")
    return f"{source}{SEP}{entry.id}"


def reconcile(entries: Iterable[LedgerEntry], sources: Mapping[str, str], observed: Observed) -> Verdict:
    expect_fold: set[str] = set()
    expect_dlq: set[str] = set()
    for entry in entries:
        (expect_dlq if entry.expect is Expect.DLQ else expect_fold).add(dedup_key(sources, entry))
    dead = set(observed.dead_keys)
    lost_keys = sorted(k for k in expect_fold if k not in observed.folded_keys and k not in dead)
    missing_dlq = sorted(k for k in expect_dlq if k not in dead)
    both = observed.folded_keys & dead
    duplicated = sum(n - 1 for n in observed.timeline_repeats.values()) + len(both)
    mismatches = _compare("timeline vs profiles", observed.timeline, observed.profiles,
                          ("events", "gross", "refunded", "cancelled", "cost"))
    notes: list[str] = []
    if observed.metrics is not None:
        mismatches += _compare("profiles vs metrics", observed.profiles, observed.metrics, ("net", "cost", "buyers"))
        notes += _compare("profiles vs metrics (order-dependent split)", observed.profiles, observed.metrics,
                          ("gross", "cancelled"))
    return Verdict(
        acked=len(expect_fold) + len(expect_dlq),
        lost=len(lost_keys) + len(missing_dlq),
        duplicated=duplicated,
        dlq=len(dead),
        dlq_redelivered=sum(observed.dead_keys.values()) - len(dead),
        expected_dlq_missing=len(missing_dlq),
        mismatches=tuple(mismatches),
        lost_examples=tuple(k.replace(SEP, "/") for k in (lost_keys + missing_dlq)[:5]),
        notes=tuple(notes),
    )


def _compare(label: str, a: Totals, b: Totals, names: tuple[str, ...]) -> list[str]:
    out = []
    for name in names:
        left, right = Decimal(getattr(a, name)), Decimal(getattr(b, name))
        if abs(left - right) > Decimal("0.005"):
            out.append(f"{label}: {name} {left} != {right}")
    return out


@dataclass(frozen=True)
class FaultCounts:
    kills_profile: int = 0
    kills_metrics: int = 0
    kills_ingest: int = 0
    broker_restarts: int = 0
    pg_restarts: int = 0

    @property
    def total(self) -> int:
        return self.kills_profile + self.kills_metrics + self.kills_ingest + self.broker_restarts + self.pg_restarts


def figures_line(verdict: Verdict, faults: FaultCounts) -> str:
    return (
        f"acked={verdict.acked} lost={verdict.lost} duplicated={verdict.duplicated} dlq={verdict.dlq} "
        f"faults={faults.total} (kills_profile={faults.kills_profile}, kills_metrics={faults.kills_metrics}, "
        f"kills_ingest={faults.kills_ingest}, broker_restarts={faults.broker_restarts}, "
        f"pg_restarts={faults.pg_restarts})"
    )
