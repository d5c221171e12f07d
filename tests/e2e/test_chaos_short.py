"""The shortened `make chaos`: the dev stack under the simulator while every fault is
injected at least once, then the reconciliation. Prints the figures line."""

from pathlib import Path

import pytest

from services.chaos.domain.plan import Fault
from services.chaos.service_layer.chaos_run import ChaosOptions, run_chaos

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(420)]


async def test_every_acknowledged_event_is_folded_once_through_every_fault(tmp_path: Path) -> None:
    lines: list[str] = []
    result = await run_chaos(
        ChaosOptions(data_dir=tmp_path / "chaos", duration_s=20, rate=60, customers=150, seed=3, poison=4,
                     quiet_window_s=2.0, broker_down_s=2.0),
        say=lines.append,
    )
    print("\n".join([*lines, result.line]))
    faults = result.faults
    assert min(faults.kills_profile, faults.kills_metrics, faults.kills_ingest, faults.broker_restarts,
               faults.pg_restarts) >= 1, result.line
    assert faults.total >= len(Fault)
    verdict = result.verdict
    assert verdict.acked > 500
    assert (verdict.lost, verdict.duplicated) == (0, 0), (result.line, verdict.lost_examples)
    assert verdict.mismatches == ()
    assert verdict.dlq == 4 and verdict.expected_dlq_missing == 0
    assert result.window is not None and result.window.accepted > 0 and result.window_problems == []
    assert result.rebuild is not None and result.rebuild.equal, result.rebuild
    statuses = result.generator.http_statuses
    assert statuses[503] > 0, f"the broker outage was not seen by the client: {statuses}"
    assert result.generator.connection_errors > 0, "the ingest kill was not seen by the client"
    assert result.generator.unacknowledged == 0 and result.generator.invalid_accepted == 0
