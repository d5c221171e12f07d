import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.devstack import RunningStack, start_dev_stack


@pytest.fixture(scope="session")
def dev_stack() -> Iterator[RunningStack]:
    with tempfile.TemporaryDirectory(prefix="touchpoint-e2e-") as work:
        running = start_dev_stack(Path(work) / "data")
        try:
            yield running
        finally:
            running.stop()
