"""Reading a request body: media type, gzip inflated under a hard size cap, JSON parsed."""

import zlib
from collections.abc import AsyncIterator
from typing import Any

import orjson
from fastapi import Request

from services.ingest.domain.rejections import Code
from shared.errors import ApiError

_JSON_TYPES = frozenset({"application/json", "text/plain"})


def check_media_type(request: Request) -> None:
    content_type = request.headers.get("content-type")
    if content_type is None:
        return
    media = content_type.split(";", 1)[0].strip().lower()
    if media not in _JSON_TYPES and not media.endswith("+json"):
        raise ApiError(
            415,
            Code.UNSUPPORTED_MEDIA_TYPE,
            f"Content-Type {media or '(empty)'} is not accepted; send application/json.",
        )


def too_large(limit: int) -> ApiError:
    return ApiError(413, Code.BODY_TOO_LARGE, f"The body is larger than {limit} bytes (measured after gzip inflation).")


async def inflate_gzip(chunks: AsyncIterator[bytes], *, limit: int) -> bytes:
    """Inflate a gzip stream, stopping as soon as the output would pass `limit` bytes."""
    inflater = zlib.decompressobj(wbits=31)
    out = bytearray()
    received = 0
    try:
        async for chunk in chunks:
            received += len(chunk)
            if received > limit:
                raise too_large(limit)
            pending = chunk
            while pending:
                if inflater.eof:  # another gzip member follows
                    inflater = zlib.decompressobj(wbits=31)
                out += inflater.decompress(pending, limit + 1 - len(out))
                if len(out) > limit:
                    raise too_large(limit)
                pending = inflater.unused_data if inflater.eof else inflater.unconsumed_tail
    except zlib.error as exc:
        raise ApiError(400, Code.INVALID_JSON, f"The gzip body could not be inflated: {exc}.") from exc
    if not inflater.eof:
        raise ApiError(400, Code.INVALID_JSON, "The gzip body ends before its end marker.")
    return bytes(out)


async def read_body(request: Request, *, limit: int) -> bytes:
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding == "gzip":
        return await inflate_gzip(request.stream(), limit=limit)
    if encoding not in ("identity", ""):
        raise ApiError(
            415, Code.UNSUPPORTED_MEDIA_TYPE, f"Content-Encoding {encoding} is not accepted; use gzip or none."
        )
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit():
        if int(declared) > limit:
            raise too_large(limit)
        return await request.body()
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise too_large(limit)
    return bytes(body)


def parse_json(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ApiError(
            400, Code.INVALID_JSON, f"The body is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}."
        ) from exc
