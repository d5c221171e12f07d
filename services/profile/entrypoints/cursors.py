"""Opaque page cursors: base64url of a small JSON array."""

import base64
import binascii
from datetime import datetime
from typing import Any
from uuid import UUID

import orjson

from shared.errors import ApiError


def _encode(payload: list[Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(payload)).decode().rstrip("=")


def _decode(cursor: str) -> list[Any]:
    try:
        payload = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError) as exc:
        raise ApiError(422, "invalid_cursor", "The cursor is not one this API handed out.", path="cursor") from exc
    if not isinstance(payload, list):
        raise ApiError(422, "invalid_cursor", "The cursor is not one this API handed out.", path="cursor")
    return payload


def timeline_cursor(occurred_at: datetime, event_key: str) -> str:
    return _encode(["t", occurred_at.isoformat(), event_key])


def read_timeline_cursor(cursor: str) -> tuple[datetime, str]:
    payload = _decode(cursor)
    try:
        tag, at, key = payload
        if tag != "t":
            raise ValueError(tag)
        return datetime.fromisoformat(at), str(key)
    except (TypeError, ValueError) as exc:
        raise ApiError(422, "invalid_cursor", "The cursor is not one this API handed out.", path="cursor") from exc


def list_cursor(last_id: UUID) -> str:
    return _encode(["p", str(last_id)])


def read_list_cursor(cursor: str) -> UUID:
    payload = _decode(cursor)
    try:
        tag, last = payload
        if tag != "p":
            raise ValueError(tag)
        return UUID(last)
    except (TypeError, ValueError) as exc:
        raise ApiError(422, "invalid_cursor", "The cursor is not one this API handed out.", path="cursor") from exc
