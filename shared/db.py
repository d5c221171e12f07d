from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from shared.settings import CommonSettings


def async_url(url: str) -> str:
    if url.startswith("postgresql://"):
        return "postgresql+asyncpg://" + url.removeprefix("postgresql://")
    return url


def plain_url(url: str) -> str:
    """The libpq form (postgresql://...) for asyncpg.connect and tools."""
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


def create_engine(settings: CommonSettings, *, pool_size: int | None = None, pre_ping: bool = True) -> AsyncEngine:
    """The async engine. `pre_ping` tests each connection with a round trip when it is checked
    out; the fold consumers turn it off: they retry a transaction that failed on a dead
    connection anyway (the failure invalidates the pool), so the ping would only add a round
    trip to every batch."""
    return create_async_engine(
        async_url(settings.database_url),
        pool_size=pool_size or settings.db_pool_size,
        max_overflow=0,
        pool_pre_ping=pre_ping,
        pool_recycle=1800,
    )
