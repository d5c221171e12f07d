"""Records a broken producer might write straight to the touchpoints topic, bypassing ingest.

Nothing that passes ingest validation fails the profile fold (ingest builds the canonical
Touchpoint), so the dead-letter path is exercised by a simulated broken producer: bytes that
are not a Touchpoint, carrying CloudEvents headers so the dead letter can be traced back."""

from dataclasses import dataclass
from datetime import datetime

from shared.envelope import encode

SOURCE = "broken-producer"


@dataclass(frozen=True, slots=True)
class PoisonRecord:
    id: str
    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]]


_BODIES = (
    b"this is not json",
    b'{"id": "%s", "type": 42, "identities": "nobody"}',
    b'{"id": "%s", "source": "broken-producer", "type": "page_view"}',
    b"\xff\xfe\x00garbage",
)


def poison_records(run: str, count: int, now: datetime) -> list[PoisonRecord]:
    out = []
    for n in range(count):
        event_id = f"{run}-poison{n}"
        template = _BODIES[n % len(_BODIES)]
        value = template % event_id.encode() if b"%s" in template else template
        record = encode(data=value, event_id=event_id, source=SOURCE, event_type="touchpoint.broken", time=now,
                        key=f"anonymous_id:{event_id}")
        out.append(PoisonRecord(event_id, record.key, record.value, record.headers))
    return out
