"""API keys: write (ingest, one source each), read, admin.

A key reads `tp_<kind>_<key id>_<secret>`. Only a SHA-256 of the secret is stored; the
secret is compared in constant time. Verified keys are cached for `key_cache_ttl_s`, so a
revocation takes effect within that many seconds.
"""

import asyncio
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from enum import StrEnum

from fastapi import Request
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.errors import ApiError


class KeyKind(StrEnum):
    WRITE = "write"
    READ = "read"
    ADMIN = "admin"


# which key kinds open a route that asks for a kind
GRANTS: dict[KeyKind, frozenset[KeyKind]] = {
    KeyKind.WRITE: frozenset({KeyKind.WRITE}),
    KeyKind.READ: frozenset({KeyKind.READ, KeyKind.ADMIN}),
    KeyKind.ADMIN: frozenset({KeyKind.ADMIN}),
}


@dataclass(frozen=True)
class Principal:
    key_id: str
    kind: KeyKind
    source: str


@dataclass(frozen=True)
class IssuedKey:
    key: str
    principal: Principal


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def split_key(raw: str) -> tuple[str, str] | None:
    parts = raw.split("_")
    if len(parts) != 4 or parts[0] != "tp" or parts[1] not in KeyKind.__members__.values():
        return None
    return parts[2], parts[3]


async def create_key(engine: AsyncEngine, *, kind: KeyKind, source: str) -> IssuedKey:
    key_id, secret = secrets.token_hex(6), secrets.token_urlsafe(24).replace("_", "-")
    async with engine.begin() as conn:
        await conn.execute(
            text("INSERT INTO auth.api_keys (key_id, kind, source, secret_sha256) VALUES (:i, :k, :s, :h)"),
            {"i": key_id, "k": kind.value, "s": source, "h": _digest(secret)},
        )
    return IssuedKey(f"tp_{kind.value}_{key_id}_{secret}", Principal(key_id, kind, source))


async def revoke_key(engine: AsyncEngine, *, key_id: str) -> bool:
    async with engine.begin() as conn:
        result = await conn.execute(
            text("UPDATE auth.api_keys SET revoked_at = now() WHERE key_id = :i AND revoked_at IS NULL"),
            {"i": key_id},
        )
    return bool(result.rowcount)  # type: ignore[attr-defined]


class KeyStore:
    """Verified keys, cached for `ttl_s`. When an entry expires under load, the first caller
    queries the database and concurrent callers for the same key await its answer (one query
    per key at a time, not one per request in flight)."""

    def __init__(self, engine: AsyncEngine, *, ttl_s: float = 2.0) -> None:
        self.engine, self.ttl_s = engine, ttl_s
        self._cache: dict[str, tuple[float, Principal | None]] = {}
        self._pending: dict[str, asyncio.Future[Principal | None]] = {}

    async def verify(self, raw: str) -> Principal | None:
        parts = split_key(raw)
        if parts is None:
            return None
        hit = self._cache.get(raw)
        if hit is not None and time.monotonic() - hit[0] < self.ttl_s:
            return hit[1]
        pending = self._pending.get(raw)
        if pending is not None:
            try:
                return await asyncio.shield(pending)
            except asyncio.CancelledError:
                if not pending.cancelled():
                    raise  # this caller was cancelled
                # the querying caller was cancelled: query for ourselves
        answer: asyncio.Future[Principal | None] = asyncio.get_running_loop().create_future()
        self._pending[raw] = answer
        try:
            principal = await self._lookup(raw, *parts)
        except BaseException as exc:
            if isinstance(exc, asyncio.CancelledError):
                answer.cancel()
            else:
                answer.set_exception(exc)
                answer.exception()  # retrieved here; the waiters re-raise it
            raise
        finally:
            if self._pending.get(raw) is answer:
                del self._pending[raw]
        answer.set_result(principal)
        return principal

    async def _lookup(self, raw: str, key_id: str, secret: str) -> Principal | None:
        now = time.monotonic()
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    text(
                        "SELECT kind, source, secret_sha256 FROM auth.api_keys WHERE key_id = :i AND revoked_at IS NULL"
                    ),
                    {"i": key_id},
                )
            ).first()
        principal = None
        if row is not None and hmac.compare_digest(row.secret_sha256, _digest(secret)):
            principal = Principal(key_id, KeyKind(row.kind), row.source)
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[raw] = (now, principal)
        return principal


def bearer_or_header(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip()
    return request.headers.get("x-api-key")


def authorize(principal: Principal | None, needed: KeyKind) -> Principal:
    if principal is None:
        raise ApiError(401, "unauthorized", "A valid API key is required.", headers={"WWW-Authenticate": "Bearer"})
    if principal.kind not in GRANTS[needed]:
        raise ApiError(403, "forbidden", f"This route needs a {needed.value} key.")
    return principal


def require(needed: KeyKind):  # type: ignore[no-untyped-def]
    """FastAPI dependency: the caller's principal, if its key grants `needed`. Needs app.state.keys."""

    async def dependency(request: Request) -> Principal:
        raw = bearer_or_header(request)
        principal = await request.app.state.keys.verify(raw) if raw else None
        return authorize(principal, needed)

    return dependency
