from collections.abc import AsyncIterator

import pytest

from tests.integration.ingest.harness import Ingest, running_ingest
from tests.support.stack import Env


@pytest.fixture
async def ingest(env: Env) -> AsyncIterator[Ingest]:
    async with running_ingest(env) as running:
        yield running
