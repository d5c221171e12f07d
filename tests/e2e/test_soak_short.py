"""`make soak`, shortened: ramp to the highest sustainable rate (capped), hold half of it, and
check that nothing was lost or counted twice, lag stayed bounded and every service stayed under
the 300 MB RSS design target."""

import asyncio
from pathlib import Path

import pytest

from services.chaos.service_layer.soak import SoakOptions, run_soak

pytestmark = pytest.mark.e2e

RSS_LIMIT = 300 * 2**20


def test_a_short_soak_loses_nothing_and_stays_bounded(tmp_path: Path) -> None:
    options = SoakOptions(data_dir=tmp_path / "soak", duration_s=15, ramp_step_s=5, ramp_max=800, customers=300,
                          sample_every_s=2)
    result = asyncio.run(run_soak(options, say=lambda line: None))
    print("\n".join(result.lines()))
    assert result.verdict.ok, result.lines()
    assert result.verdict.acked > 0 and result.verdict.lost == 0 and result.verdict.duplicated == 0
    assert result.soak_rate > 0 and result.ramp
    assert result.samples.lag
    behind = result.soak_rate * 10  # never more than ~10 s of traffic behind
    assert result.samples.lag_max.profile <= behind and result.samples.lag_max.metrics <= behind
    assert set(result.samples.rss) >= {"ingest", "profile-api", "profile-consumer", "metrics-api", "metrics-consumer"}
    for name, points in result.samples.rss.items():
        assert max(rss for _, rss in points) < RSS_LIMIT, name
