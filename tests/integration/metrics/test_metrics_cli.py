"""`touchpoint metrics consume` and `rebuild-aggregates` as an operator runs them."""

import asyncio
import os
import signal
import subprocess
import sys
import time

from shared.facts import FactKind as K
from tests.integration.metrics.harness import Metrics, fact, profile


async def test_consume_folds_until_sigterm_and_rebuild_keeps_the_figures(metrics: Metrics) -> None:
    env = {**os.environ, **metrics.env.os_env, "TOUCHPOINT_INACTIVITY_DAYS": "30"}
    await metrics.produce([
        fact("c1", K.PURCHASE, "cli", "2024-01-10", "10", segment="gold"),
        fact("c2", K.PURCHASE, "cli", "2024-02-01", "5"),
    ])
    consumer = subprocess.Popen(  # noqa: ASYNC220 - the process under test
        [sys.executable, "-m", "services.cli", "metrics", "consume"], env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while await metrics.stored_offsets() != {p: n for p, n in metrics.log_end.items()}:
            assert consumer.poll() is None, consumer.stderr.read().decode() if consumer.stderr else ""
            assert time.monotonic() < deadline, "the consumer did not fold the facts"
            await asyncio.sleep(0.1)
    finally:
        consumer.send_signal(signal.SIGTERM)
        code = await asyncio.to_thread(consumer.wait, 30)
    assert code == 0
    row = (await metrics.rows("SELECT orders, lost_on FROM metrics.customers WHERE profile_id = :p",
                              p=profile("cli")))[0]
    assert str(row["lost_on"]) == "2024-03-02"  # 02-01 + 30 days: the consumer read TOUCHPOINT_INACTIVITY_DAYS

    rebuilt = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "services.cli", "metrics", "rebuild-aggregates"],
        env={**env, "TOUCHPOINT_INACTIVITY_DAYS": "60"}, capture_output=True, timeout=60,
    )
    assert rebuilt.returncode == 0, rebuilt.stderr.decode()
    assert b"refigured 1 customers" in rebuilt.stdout
    row = (await metrics.rows("SELECT orders, lost_on FROM metrics.customers WHERE profile_id = :p",
                              p=profile("cli")))[0]
    assert (row["orders"], str(row["lost_on"])) == (2, "2024-04-01")  # 02-01 + 60 days after the rebuild
