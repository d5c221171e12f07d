"""The unit of work of the metrics jobs (refit, rebuild): one transaction that commits when the
block completes and rolls back when it raises. The consumer loop is the unit of work of the fold."""

from types import TracebackType
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine


class UnitOfWork:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._transaction: Any = None

    async def __aenter__(self) -> AsyncConnection:
        self._transaction = self.engine.begin()
        conn: AsyncConnection = await self._transaction.__aenter__()
        return conn

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        await self._transaction.__aexit__(kind, error, trace)
