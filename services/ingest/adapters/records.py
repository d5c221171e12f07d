"""Accepted touchpoints as Kafka records, in one pass.

The value is the canonical JSON of shared.events.Touchpoint exactly as
`shared.envelope.encode_touchpoint` makes it (`model_dump_json(exclude_defaults=True)`:
fields in schema order, unset and empty ones left out, times in UTC with `Z`, money as
decimal strings), written by orjson from the plain values of `Accepted` instead of through
the pydantic model. The nested money models (order, cost, feedback) are already canonical
model instances and are serialized by pydantic, embedded as fragments. A property test
holds every record equal, byte for byte, to `encode_touchpoint(accepted.touchpoint())`.
The header bytes of sources and types are kept between records.
"""

from typing import Any

import orjson

from services.ingest.domain.touchpoints import Accepted
from shared.envelope import CONTENT_TYPE, SPEC_VERSION, TYPE_PREFIX, KafkaRecord

_CACHE_SIZE = 10_000
_UTC_Z = orjson.OPT_UTC_Z


class RecordEncoder:
    def __init__(self) -> None:
        self._sources: dict[str, bytes] = {}
        self._types: dict[str, bytes] = {}

    def encode(self, touchpoint: Accepted) -> KafkaRecord:
        t = touchpoint
        occurred = orjson.dumps(t.occurred_at, option=_UTC_Z)  # the JSON string, quotes included
        doc: dict[str, Any] = {
            "id": t.id,
            "source": t.source,
            "type": t.type,
            "initiator": t.initiator,
            "phase": t.phase,
            "channel": t.channel,
            "identities": t.identities,
            "occurred_at": orjson.Fragment(occurred),  # formatted once, for the value and ce_time
            "received_at": t.received_at,
        }
        if t.sent_at is not None:
            doc["sent_at"] = t.sent_at
        if t.order is not None:
            doc["order"] = orjson.Fragment(t.order.model_dump_json(exclude_defaults=True))
        if t.cost is not None:
            doc["cost"] = orjson.Fragment(t.cost.model_dump_json(exclude_defaults=True))
        if t.feedback is not None:
            doc["feedback"] = orjson.Fragment(t.feedback.model_dump_json(exclude_defaults=True))
        if t.referral_of is not None:
            doc["referral_of"] = t.referral_of
        if t.traits:
            doc["traits"] = t.traits
        if t.traits_set_once:
            doc["traits_set_once"] = t.traits_set_once
        if t.consent:
            doc["consent"] = t.consent
        if t.properties:
            doc["properties"] = t.properties
        if t.context:
            doc["context"] = t.context
        return KafkaRecord(
            t.partition_key().encode(),
            orjson.dumps(doc, option=_UTC_Z),
            [
                ("ce_specversion", SPEC_VERSION),
                ("ce_id", t.id.encode()),
                ("ce_source", self._bytes(self._sources, t.source, "")),
                ("ce_type", self._bytes(self._types, t.type, TYPE_PREFIX + "touchpoint.")),
                ("ce_time", occurred[1:-1]),
                ("content-type", CONTENT_TYPE),
            ],
        )

    @staticmethod
    def _bytes(cache: dict[str, bytes], text: str, prefix: str) -> bytes:
        encoded = cache.get(text)
        if encoded is None:
            if len(cache) >= _CACHE_SIZE:
                cache.clear()
            encoded = cache[text] = (prefix + text).encode()
        return encoded
