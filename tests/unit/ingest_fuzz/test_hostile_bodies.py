"""Hostile bodies against the real ingest parser: never a 5xx, never invalid data accepted,
every refusal coded. The last test reads the topic back: everything in the log is a valid
canonical Touchpoint, and only ids the API acknowledged are there."""

import gzip
import json
from datetime import UTC, datetime
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from shared.catalogue import CATALOGUE
from shared.events import Touchpoint
from tests.unit.ingest_fuzz.conftest import FuzzIngest, assert_coded, read_all
from tests.unit.ingest_fuzz.oracle import violations

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=30),
)
json_values = st.recursive(
    json_scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=15,
)
identity_values = st.one_of(
    st.sampled_from(["", "0", "null", "undefined", "N/A", "[object Object]", "  ", "guest"]),
    st.text(min_size=1, max_size=40), st.emails().map(str), st.just("+44 20 7946 0000"), json_scalars,
)
identities = st.one_of(
    st.fixed_dictionaries({}, optional={
        "customer_id": identity_values, "anonymous_id": identity_values, "email": identity_values,
        "phone": identity_values, "external": st.dictionaries(st.from_regex(r"[a-z]{1,8}", fullmatch=True),
                                                              identity_values, max_size=2),
    }),
    json_values,
)
money = st.one_of(
    st.decimals(allow_nan=False, allow_infinity=False, places=2, min_value=-10**6, max_value=10**6).map(str),
    st.sampled_from(["NaN", "Infinity", "-Infinity", "1e999", "12345678901234567890.12345", "0x10", ""]),
    st.integers(min_value=-(2**80), max_value=2**80), st.floats(allow_nan=False, allow_infinity=False),
)
orders = st.fixed_dictionaries(
    {"order_id": st.one_of(st.text(max_size=210), st.integers())},
    optional={"revenue": money, "currency": st.sampled_from(["EUR", "usd", "EURO", "", "€"]),
              "items": st.lists(st.fixed_dictionaries({}, optional={"price": money, "quantity": json_scalars,
                                                                    "category": st.text(max_size=20)}), max_size=3)},
)
times = st.one_of(
    st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)).map(
        lambda d: d.isoformat()
    ),
    st.text(alphabet="abcxyz:-", max_size=12),
)
events = st.fixed_dictionaries(
    {"type": st.one_of(st.sampled_from(sorted(CATALOGUE)), st.text(max_size=70))},
    optional={
        "id": st.one_of(st.text(min_size=1, max_size=120), st.just("")),
        "identities": identities,
        "occurred_at": times,
        "order": orders,
        "feedback": st.fixed_dictionaries({}, optional={"nps": st.integers(-3, 14), "rating": st.integers(-1, 7)}),
        "properties": json_values,
        "traits": st.dictionaries(st.text(max_size=10), json_scalars, max_size=3),
        "consent": st.dictionaries(st.text(max_size=5), json_scalars, max_size=2),
        "source": st.text(max_size=5),
        "received_at": times,
        "channel": st.sampled_from(["web", "email", "telepathy", ""]),
        "bogus": json_scalars,
    },
)


def dumps(value: Any) -> bytes:
    """Standard JSON (integers of any size, unlike orjson)."""
    return json.dumps(value).encode()


def check_items(body: dict[str, Any], sent: list[Any], response_status: int) -> None:
    if "results" not in body:
        assert response_status >= 400
        return
    for result, event in zip(body["results"], sent, strict=True):
        if result["status"] == "accepted":
            assert violations(event) == [], (event, result)


@FUZZ
@given(event=events)
async def test_a_single_hostile_event_is_coded_and_never_accepted_when_invalid(
    fuzz_ingest: FuzzIngest, event: dict[str, Any]
) -> None:
    response = await fuzz_ingest.post_raw(dumps(event))
    body = assert_coded(response)
    check_items(body, [event], response.status_code)
    fuzz_ingest.remember(response)


@FUZZ
@given(batch=st.lists(events, min_size=1, max_size=6))
async def test_a_hostile_batch_is_judged_item_by_item(fuzz_ingest: FuzzIngest, batch: list[dict[str, Any]]) -> None:
    response = await fuzz_ingest.post_raw(dumps({"batch": batch}))
    body = assert_coded(response)
    check_items(body, batch, response.status_code)
    for index, result in enumerate(body.get("results", [])):
        if result["status"] == "rejected" and result["error"].get("path"):
            assert result["error"]["path"].startswith(f"batch[{index}]"), result
    fuzz_ingest.remember(response)


@FUZZ
@given(raw=st.binary(max_size=2000))
async def test_arbitrary_bytes_never_break_the_server(fuzz_ingest: FuzzIngest, raw: bytes) -> None:
    response = await fuzz_ingest.post_raw(raw)
    assert_coded(response)
    if response.status_code < 300:
        check_items(response.json(), [orjson.loads(raw)], response.status_code)
    fuzz_ingest.remember(response)


@FUZZ
@given(raw=st.binary(max_size=400))
async def test_gzip_of_arbitrary_bytes_is_coded(fuzz_ingest: FuzzIngest, raw: bytes) -> None:
    response = await fuzz_ingest.post_raw(gzip.compress(raw), {"content-encoding": "gzip"})
    assert_coded(response)
    fuzz_ingest.remember(response)


LITERALS = [
    b"NaN", b"Infinity", b"-Infinity", b"1e999", b"-1e999", b'"\\ud800"', b'"\\udc00x"', b'"a\\u0000b"',
    b"123456789012345678901234567890123456789", b"\"\xff\xfe\"", b"\"\xc3\x28\"", b"\"\xed\xa0\x80\"",
]


@FUZZ
@given(literal=st.sampled_from(LITERALS), where=st.sampled_from(["properties", "revenue", "anonymous_id", "type"]))
async def test_non_finite_numbers_surrogates_and_invalid_utf8_are_refused_or_harmless(
    fuzz_ingest: FuzzIngest, literal: bytes, where: str
) -> None:
    placements = {
        "properties": b'{"type":"page_view","identities":{"anonymous_id":"lit-1"},"properties":{"x":%s}}',
        "revenue": b'{"type":"order_completed","identities":{"customer_id":"lit-2"},'
                   b'"order":{"order_id":"o1","revenue":%s}}',
        "anonymous_id": b'{"type":"page_view","identities":{"anonymous_id":%s}}',
        "type": b'{"type":%s,"identities":{"anonymous_id":"lit-3"}}',
    }
    response = await fuzz_ingest.post_raw(placements[where] % literal)
    assert_coded(response)
    if literal in (b"NaN", b"Infinity", b"-Infinity", b"1e999", b"-1e999") or b"\\ud800" in literal:
        assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_json"
    if where == "revenue" and response.status_code < 300:
        raise AssertionError(f"revenue {literal!r} accepted")
    fuzz_ingest.remember(response)


async def test_nesting_past_the_parser_depth_is_invalid_json(fuzz_ingest: FuzzIngest) -> None:
    nested = b"[" * 5000 + b"]" * 5000
    deep = b'{"type":"page_view","identities":{"anonymous_id":"deep"},"properties":{"x":' + nested + b"}}"
    response = await fuzz_ingest.post_raw(deep)
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_json"


@FUZZ
@given(depth=st.integers(min_value=200, max_value=1020), container=st.sampled_from(["object", "array"]))
async def test_deep_but_parseable_nesting_is_answered_without_error(
    fuzz_ingest: FuzzIngest, depth: int, container: str
) -> None:
    opener, closer = (b'{"n":', b"}") if container == "object" else (b"[", b"]")
    nested = opener * depth + b'"leaf"' + closer * depth
    response = await fuzz_ingest.post_raw(
        b'{"type":"page_view","identities":{"anonymous_id":"deep"},"properties":{"x":' + nested + b"}}"
    )
    assert_coded(response)
    fuzz_ingest.remember(response)


async def test_duplicate_keys_resolve_the_same_way_for_validation_and_publication(fuzz_ingest: FuzzIngest) -> None:
    raw = (b'{"id":"fuzz-dupkeys","type":"order_completed","type":"page_view",'
           b'"identities":{"anonymous_id":"undefined","anonymous_id":"dup-keys-1"}}')
    response = await fuzz_ingest.post_raw(raw)
    assert response.status_code == 202, response.text
    fuzz_ingest.remember(response)


async def test_giant_strings_are_refused_with_a_size_code(fuzz_ingest: FuzzIngest) -> None:
    cases = {
        b"id": (orjson.dumps({"id": "i" * 100_000, "type": "page_view", "identities": {"anonymous_id": "g"}}),
                {"invalid_field", "event_too_large"}),
        b"event": (orjson.dumps({"type": "page_view", "identities": {"anonymous_id": "g"},
                                 "context": {"blob": "x" * 40_000}}), {"event_too_large"}),
        b"properties": (orjson.dumps({"type": "page_view", "identities": {"anonymous_id": "g"},
                                      "properties": {"blob": "x" * 9_000}}), {"event_too_large", "invalid_field"}),
        b"body": (orjson.dumps({"type": "page_view", "identities": {"anonymous_id": "g"},
                                "context": {"blob": "x" * 600_000}}), {"body_too_large"}),
    }
    for name, (raw, codes) in cases.items():
        response = await fuzz_ingest.post_raw(raw)
        body = assert_coded(response)
        code = body["error"]["code"] if "error" in body else body["results"][0]["error"]["code"]
        assert response.status_code in (413, 422) and code in codes, (name, response.status_code, code)


async def test_a_gzip_bomb_is_refused_without_inflating_it(fuzz_ingest: FuzzIngest) -> None:
    bomb = gzip.compress(b'{"type":"page_view","properties":{"x":"' + b"0" * 50_000_000 + b'"}}', 9)
    response = await fuzz_ingest.post_raw(bomb, {"content-encoding": "gzip"})
    assert response.status_code == 413 and response.json()["error"]["code"] == "body_too_large"


async def test_everything_in_the_log_is_a_valid_touchpoint_the_api_acknowledged(fuzz_ingest: FuzzIngest) -> None:
    assert fuzz_ingest.accepted_ids, "no example was accepted: the generators are too hostile to test acceptance"
    records = await read_all(fuzz_ingest.settings, expected=len(fuzz_ingest.accepted_ids))
    published, unreadable = [], []
    for record in records:
        try:
            published.append(Touchpoint.from_json(record.value))
        except ValidationError as exc:
            unreadable.append(f"{len(record.value)} bytes: {exc.errors()[0]['msg']}")
    assert not unreadable, f"accepted at HTTP but unreadable by every consumer (Touchpoint.from_json): {unreadable}"
    assert {tp.id for tp in published} == fuzz_ingest.accepted_ids
    duplicate_keys = [tp for tp in published if tp.id == "fuzz-dupkeys"]
    assert [tp.type for tp in duplicate_keys] == ["page_view"]
    assert duplicate_keys[0].identities.anonymous_id == "dup-keys-1"
