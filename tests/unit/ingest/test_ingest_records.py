"""The publisher's one-pass record encoding is the canonical encoding, byte for byte."""

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from services.ingest.adapters.records import RecordEncoder
from services.ingest.domain.rejections import Rejection
from services.ingest.domain.touchpoints import Accepted, build_touchpoint
from services.ingest.domain.validation import validate_event
from shared.catalogue import Channel, Initiator, Phase
from shared.envelope import encode_touchpoint
from shared.events import Identities, Touchpoint

RECEIVED = datetime(2026, 3, 1, 12, 0, 0, 250_000, tzinfo=UTC)

_value = st.text("abc-@.1", min_size=1, max_size=8)
_text = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=20)
_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | _text,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(_text, children, max_size=3),
    max_leaves=8,
)
_free = st.dictionaries(_text, _json, max_size=3)
_moment = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2040, 1, 1), timezones=st.sampled_from([None, UTC])
).map(lambda d: d.isoformat())
_identities = st.fixed_dictionaries(
    {},
    optional={
        "customer_id": _value,
        "anonymous_id": _value,
        "email": st.sampled_from(["A@Example.com", "b@x.io", "null", " c@d.org "]),
        "phone": st.sampled_from(["+44 20 7946 0018", "0000000", "555-0100-22"]),
        "external": st.dictionaries(st.sampled_from(["crm", "erp", "a.b", "Z_1"]), _value, max_size=3),
    },
)
_item = st.fixed_dictionaries(
    {},
    optional={
        "product_id": _value,
        "category": _value,
        "price": st.decimals(min_value=0, max_value=10_000, places=2).map(str),
        "quantity": st.integers(min_value=0, max_value=50),
    },
)
_order = st.fixed_dictionaries(
    {"order_id": _value},
    optional={
        "revenue": st.decimals(min_value=-1000, max_value=100_000, places=4).map(str),
        "currency": st.sampled_from(["USD", "EUR"]),
        "items": st.lists(_item, max_size=2),
    },
)
_events = st.fixed_dictionaries(
    {
        "type": st.sampled_from(["page_view", "order_completed", "order_refunded", "survey_answered", "my_custom"]),
        "identities": _identities,
    },
    optional={
        "id": _value,
        "initiator": st.sampled_from(["brand", "customer"]),
        "channel": st.sampled_from(["web", "phone", "email", "store"]),
        "occurred_at": _moment,
        "sent_at": _moment,
        "order": _order,
        "cost": st.fixed_dictionaries(
            {}, optional={"amount": st.just("2.50"), "agent_minutes": st.floats(min_value=0, max_value=600)}
        ),
        "feedback": st.fixed_dictionaries(
            {}, optional={"nps": st.integers(0, 10), "rating": st.integers(1, 5), "comment": _text}
        ),
        "referral_of": _identities,
        "traits": _free,
        "traits_set_once": _free,
        "consent": st.dictionaries(_value, st.booleans(), max_size=2),
        "properties": _free,
        "context": _free,
    },
)


def accepted_from(raw: dict[str, Any]) -> Accepted | None:
    event = validate_event(orjson.loads(orjson.dumps(raw)))
    if isinstance(event, Rejection):
        return None
    built = build_touchpoint(
        event, source="shop", received_at=RECEIVED, new_id=lambda: "gen", max_properties_bytes=8192
    )
    return None if isinstance(built, Rejection) else built


@settings(max_examples=300)
@given(raw=_events)
def test_a_record_is_the_canonical_encoding_of_its_touchpoint(raw: dict[str, Any]) -> None:
    accepted = accepted_from(raw)
    if accepted is None:
        return
    touchpoint = accepted.touchpoint()
    record = RecordEncoder().encode(accepted)
    assert record == encode_touchpoint(touchpoint)
    assert Touchpoint.from_json(record.value) == touchpoint
    assert accepted.identity_pairs() == touchpoint.identities.pairs()


def test_a_full_event_encodes_canonically() -> None:
    raw = {
        "id": "e-1",
        "type": "order_completed",
        "identities": {"email": "A@Example.com", "anonymous_id": "a1", "external": {"crm": "7", "erp": "x"}},
        "occurred_at": (RECEIVED - timedelta(hours=2)).isoformat(),
        "sent_at": (RECEIVED - timedelta(seconds=3)).isoformat(),
        "order": {"order_id": "o-1", "revenue": "42.10", "items": [{"sku": "s", "price": "21.05", "quantity": 2}]},
        "cost": {"amount": "1.5", "currency": "EUR"},
        "feedback": {"nps": 9},
        "referral_of": {"customer_id": "c-2"},
        "traits": {"plan": "pro", "n": [1, {"a": None}]},
        "consent": {"email": True},
        "properties": {"price": 19.99, "big": 2**63},
        "context": {"page": {"url": "https://shop.example/"}},
    }
    accepted = accepted_from(raw)
    assert accepted is not None
    record = RecordEncoder().encode(accepted)
    assert record == encode_touchpoint(accepted.touchpoint())
    assert record.key == b"email:a@example.com"
    value = orjson.loads(record.value)
    assert value["order"] == {
        "order_id": "o-1",
        "revenue": "42.10",
        "items": [{"sku": "s", "price": "21.05", "quantity": 2}],
    }
    assert value["occurred_at"] == "2026-03-01T10:00:03.250000Z"  # corrected by the 3 s clock skew


@given(
    customer_id=st.none() | _value,
    anonymous_id=st.none() | _value,
    email=st.none() | _value,
    phone=st.none() | _value,
    external=st.dictionaries(st.sampled_from(["crm", "erp", "a.b", "Z_1"]), _value, max_size=3),
)
def test_the_partition_key_is_the_shared_models_strongest_identity(
    customer_id: str | None, anonymous_id: str | None, email: str | None, phone: str | None, external: dict[str, str]
) -> None:
    identities = Identities(
        customer_id=customer_id, anonymous_id=anonymous_id, email=email, phone=phone, external=external
    )
    doc = identities.model_dump(exclude_defaults=True)
    accepted = Accepted(
        id="e", source="s", type="page_view", initiator=Initiator.CUSTOMER, phase=Phase.PRE_PURCHASE,
        channel=Channel.WEB,
        identities=doc, occurred_at=RECEIVED, received_at=RECEIVED, sent_at=None, order=None, cost=None,
        feedback=None, referral_of=None, traits={}, traits_set_once={}, consent={}, properties={}, context={},
    )  # fmt: skip
    assert accepted.partition_key() == identities.partition_key()
    assert accepted.identity_pairs() == identities.pairs()
