"""Which fault when: every kind at least once, spread over the run, kills repeated."""

from enum import StrEnum


class Fault(StrEnum):
    KILL_PROFILE = "kill_profile"
    KILL_METRICS = "kill_metrics"
    KILL_INGEST = "kill_ingest"
    RESTART_POSTGRES = "restart_postgres"
    RESTART_BROKER = "restart_broker"


CYCLE = (
    Fault.KILL_PROFILE, Fault.KILL_INGEST, Fault.KILL_METRICS, Fault.RESTART_POSTGRES, Fault.KILL_PROFILE,
    Fault.RESTART_BROKER, Fault.KILL_METRICS, Fault.KILL_INGEST,
)


def fault_plan(duration_s: float, *, spacing_s: float = 4.0) -> list[tuple[float, Fault]]:
    """(seconds after the start, fault); at least one full cycle, more when the run is long."""
    count = max(len(CYCLE), int(duration_s // spacing_s) - 1)
    step = duration_s / (count + 1)
    return [(round(step * (i + 1), 2), CYCLE[i % len(CYCLE)]) for i in range(count)]
