from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from shared.settings import CommonSettings


def async_url(url: str) -> str:
    if url.startswith("postgresql://"):
        return "postgresql+asyncpg://" + url.removeprefix("postgresql://")
    return url


def plain_url(url: str) -> str:
    """The libpq form (postgresql://...) for asyncpg.connect and tools."""
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


def create_engine(settings: CommonSettings, *, pool_size: int | None = None) -> AsyncEngine:
    return create_async_engine(
        async_url(settings.database_url),
        pool_size=pool_size or settings.db_pool_size,
        max_overflow=0,
        pool_pre_ping=True,
        pool_recycle=1800,
    )
