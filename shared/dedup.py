from collections.abc import Sequence

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection


async def claim_new(conn: AsyncConnection, table: str, keys: Sequence[str]) -> set[str]:
    """Record `keys` as processed in `table(key text primary key)`; return those not seen before.

    Permanent: a key claimed once is never new again, however late the retry.
    """
    if not keys:
        return set()
    rows = await conn.execute(
        text(f"INSERT INTO {table} (key) SELECT unnest(CAST(:keys AS text[])) ON CONFLICT DO NOTHING RETURNING key"),
        {"keys": list(dict.fromkeys(keys))},
    )
    return {row.key for row in rows}
