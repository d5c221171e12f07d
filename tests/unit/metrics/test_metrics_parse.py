"""Records that cannot be folded become dead letters with a machine-readable reason."""

import uuid

from aiokafka.structs import ConsumerRecord

from services.metrics.service_layer.fold import parse


def record(value: bytes) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord("customers.v1", 0, 7, 0, 0, b"k", value, None, len(b"k"), len(value), [])


def test_every_rejection_has_a_code_and_a_sentence() -> None:
    who, other = uuid.uuid4(), uuid.uuid4()
    values = [
        b"not json",
        b'{"fact_id": "f1", "kind": "purchase", "profile_id": "%s", "occurred_at": "2024-01-01T00:00:00Z"}' % (
            str(who).encode()),
        b'{"fact_id": "f2", "kind": "refund", "profile_id": "%s", "occurred_at": "2024-01-01T00:00:00Z", '
        b'"amount": "-3"}' % str(who).encode(),  # a correction of revenue counted twice: accepted
        b'{"fact_id": "f3", "kind": "merged", "profile_id": "%s", "occurred_at": "2024-01-01T00:00:00Z"}' % (
            str(who).encode()),
        b'{"fact_id": "f4", "kind": "merged", "profile_id": "%s", "occurred_at": "2024-01-01T00:00:00Z", '
        b'"merged_profile_id": "%s"}' % (str(who).encode(), str(who).encode()),
        b'{"fact_id": "f5", "kind": "merged", "profile_id": "%s", "occurred_at": "2024-01-01T00:00:00Z", '
        b'"merged_profile_id": "%s"}' % (str(who).encode(), str(other).encode()),
    ]
    facts, dead = parse([record(v) for v in values])
    assert [f.fact_id for f in facts] == ["f2", "f5"]
    assert [d.reason for d in dead] == ["invalid_fact", "missing_amount", "missing_merged_profile", "self_merge"]
    assert all(d.detail for d in dead)
