"""What an acceptable native event must at least look like: an independent, partial oracle."""

import re
from datetime import datetime
from typing import Any

from shared.catalogue import COMMERCE_TYPES
from shared.identities import IdentityKind, normalize

FIELDS = frozenset({
    "id", "type", "initiator", "phase", "channel", "identities", "occurred_at", "sent_at", "order", "cost",
    "feedback", "referral_of", "traits", "traits_set_once", "consent", "properties", "context",
})
_TYPE = re.compile(r"^[a-z][a-z0-9_]*$")
_KINDS = {kind.value: kind for kind in IdentityKind}


def linkable(identities: Any) -> bool:
    if not isinstance(identities, dict):
        return False
    for name, value in identities.items():
        if name == "external" and isinstance(value, dict):
            if any(isinstance(v, str) and normalize(IdentityKind.EXTERNAL, v) for v in value.values()):
                return True
        elif name in _KINDS and isinstance(value, str) and normalize(_KINDS[name], value):
            return True
    return False


def violations(event: Any) -> list[str]:
    """Reasons this event must not be accepted (empty: it may be)."""
    if not isinstance(event, dict):
        return ["not an object"]
    out = []
    if set(event) - FIELDS:
        out.append("unknown field")
    kind = event.get("type")
    if not isinstance(kind, str) or not _TYPE.fullmatch(kind) or len(kind) > 64:
        out.append("bad type")
    if not linkable(event.get("identities")):
        out.append("no identity")
    if kind in COMMERCE_TYPES and not (isinstance(event.get("order"), dict) and event["order"].get("order_id")):
        out.append("commerce without order")
    event_id = event.get("id")
    if event_id is not None and not (isinstance(event_id, str) and 1 <= len(event_id) <= 100):
        out.append("bad id")
    feedback = event.get("feedback")
    if isinstance(feedback, dict) and isinstance(feedback.get("nps"), int) and not 0 <= feedback["nps"] <= 10:
        out.append("nps out of range")
    when = event.get("occurred_at")
    if when is not None and not _parses_as_time(when):
        out.append("bad occurred_at")
    return out


def _parses_as_time(value: Any) -> bool:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return True  # pydantic accepts unix times
    if not isinstance(value, str):
        return False
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value.strip().lstrip("-").replace(".", "", 1).isdigit()
    return True
