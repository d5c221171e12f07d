"""Write keys as clients present them: Bearer, X-API-Key, HTTP Basic (the key as user, as
Segment sends it), or Segment's `writeKey` in the body."""

import base64
import binascii

from fastapi import Request
from sqlalchemy.exc import SQLAlchemyError

from services.ingest.domain.rejections import Code
from services.ingest.telemetry import REJECTED
from shared.auth import KeyKind, KeyStore, Principal, authorize, bearer_or_header
from shared.errors import ApiError


def presented_key(request: Request) -> str | None:
    """The key as Segment SDKs send it (HTTP Basic, key as user), or as every service takes it."""
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(credentials.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
        user, _, password = decoded.partition(":")
        return user or password or None
    return bearer_or_header(request) or None


async def authenticate(keys: KeyStore, raw: str | None, *, retry_after_s: int) -> Principal:
    try:
        principal = await keys.verify(raw) if raw else None
    except (SQLAlchemyError, OSError) as exc:
        REJECTED.labels(Code.UNAVAILABLE.value).inc()
        raise ApiError(
            503,
            Code.UNAVAILABLE,
            "API keys cannot be checked right now; nothing was accepted. Retry later.",
            headers={"Retry-After": str(retry_after_s)},
        ) from exc
    try:
        return authorize(principal, KeyKind.WRITE)
    except ApiError as refused:
        REJECTED.labels(refused.code).inc()
        raise
