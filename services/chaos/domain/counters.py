"""Prometheus counters across process restarts.

A counter starts again at zero when its process restarts (a SIGKILL, a supervisor restart).
`LifetimeCounter` attributes each scrape to the process that answered it (its pid) and sums
the last value seen of every lifetime. Increments made between a lifetime's last scrape and
its death are not seen, so this total is a lower bound; the exact reconciliation is done over
a quiet window in which no process restarts."""

from dataclasses import dataclass, field


@dataclass
class LifetimeCounter:
    last_by_pid: dict[int, float] = field(default_factory=dict)

    def observe(self, pid: int, value: float) -> None:
        self.last_by_pid[pid] = max(value, self.last_by_pid.get(pid, 0.0))

    @property
    def total(self) -> float:
        return sum(self.last_by_pid.values())

    @property
    def lifetimes(self) -> int:
        return len(self.last_by_pid)


@dataclass(frozen=True)
class WindowDelta:
    """Counter increases over a window in which every process kept its pid."""

    accepted: float  # ingest: touchpoints_accepted_total
    folded: float  # profile consumer: touchpoint_consumer_events_total{outcome=folded}
    dead_lettered: float  # profile consumer: ...{outcome=dead_lettered}
    facts_published: float  # profile consumer: touchpoint_outbox_published_total
    facts_handled: float  # metrics consumer: touchpoint_consumer_events_total (folded + dead_lettered)

    def problems(self) -> list[str]:
        out = []
        if self.accepted != self.folded + self.dead_lettered:
            out.append(f"accepted {self.accepted:.0f} != folded {self.folded:.0f} + dlq {self.dead_lettered:.0f}")
        if self.facts_published != self.facts_handled:
            out.append(f"facts published {self.facts_published:.0f} != handled by metrics {self.facts_handled:.0f}")
        return out
