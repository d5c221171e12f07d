import os
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.support.stack import Env, TestStack, new_env, start_stack, stop_stack

os.environ.setdefault("TOUCHPOINT_LOG_JSON", "false")


@pytest.fixture(scope="session")
def stack() -> Iterator[TestStack]:
    with tempfile.TemporaryDirectory(prefix="touchpoint-test-") as work:
        running = start_stack(Path(work))
        try:
            yield running
        finally:
            stop_stack(running)


@pytest.fixture
async def env(stack: TestStack) -> AsyncIterator[Env]:
    yield await new_env(stack)
