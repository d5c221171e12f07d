import gzip
import zlib
from collections.abc import AsyncIterator

import pytest

from services.ingest.entrypoints.body import inflate_gzip, parse_json
from shared.errors import ApiError


async def chunks(data: bytes, size: int = 4096) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def test_gzip_is_inflated() -> None:
    body = b'{"type": "page_view"}' * 100
    assert await inflate_gzip(chunks(gzip.compress(body)), limit=10_000) == body


async def test_concatenated_gzip_members_are_inflated() -> None:
    assert await inflate_gzip(chunks(gzip.compress(b"[1,") + gzip.compress(b"2]")), limit=100) == b"[1,2]"


async def test_a_gzip_bomb_is_stopped_at_the_limit_without_inflating_it() -> None:
    bomb = zlib.compressobj(9, zlib.DEFLATED, 31)
    compressed = bomb.compress(b"\0" * (64 * 1024 * 1024)) + bomb.flush()  # 64 MiB of zeros in ~64 KiB
    assert len(compressed) < 100_000
    with pytest.raises(ApiError) as refused:
        await inflate_gzip(chunks(compressed), limit=512 * 1024)
    assert (refused.value.status, refused.value.code) == (413, "body_too_large")


async def test_broken_or_truncated_gzip_is_refused() -> None:
    data = gzip.compress(b'{"a": 1}' * 50)
    for broken in (data[: len(data) // 2], b"not gzip at all"):
        with pytest.raises(ApiError) as refused:
            await inflate_gzip(chunks(broken), limit=10_000)
        assert refused.value.status == 400


def test_invalid_json_says_where() -> None:
    with pytest.raises(ApiError) as refused:
        parse_json(b'{\n  "type": "page_view",\n  "identities": {oops}\n}')
    assert (refused.value.status, refused.value.code) == (400, "invalid_json")
    assert "line 3, column 18" in refused.value.message
