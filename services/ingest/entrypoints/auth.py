"""Write keys as clients present them: Bearer, X-API-Key, HTTP Basic (the key as user, as
Segment sends it), or Segment's `writeKey` in the body."""

import base64
import binascii

from fastapi import Request
from sqlalchemy.exc import SQLAlchemyError

from services.ingest.domain.rejections import Code
from services.ingest.telemetry import REJECTED
from shared.auth import KeyKind, KeyStore, Principal, authorize
from shared.errors import ApiError


def presented_key(request: Request) -> str | None:
    authorization = request.headers.get("authorization")
    if authorization:
        scheme, _, credentials = authorization.partition(" ")
        scheme = scheme.lower()
        if scheme == "bearer":
            return credentials.strip() or None
        if scheme == "basic":
            try:
                decoded = base64.b64decode(credentials.strip(), validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                return None
            user, _, password = decoded.partition(":")
            return user or password or None
    return request.headers.get("x-api-key")


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
