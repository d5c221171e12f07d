"""Identity kinds, their normal forms, and the junk values that must never link anyone."""

import re
from enum import StrEnum


class IdentityKind(StrEnum):
    CUSTOMER_ID = "customer_id"
    EMAIL = "email"
    PHONE = "phone"
    EXTERNAL = "external"
    ANONYMOUS_ID = "anonymous_id"


# Strongest first: the partition key and the merge rules use this order.
STRENGTH: tuple[IdentityKind, ...] = (
    IdentityKind.CUSTOMER_ID,
    IdentityKind.EMAIL,
    IdentityKind.PHONE,
    IdentityKind.EXTERNAL,
    IdentityKind.ANONYMOUS_ID,
)

JUNK_VALUES = frozenset(
    {
        "", "0", "-1", "null", "none", "nil", "undefined", "nan", "n/a", "na", "unknown",
        "anonymous", "test", "guest", "[object object]", "00000000-0000-0000-0000-000000000000",
    }
)

_PHONE_KEEP = re.compile(r"[^\d+]")


def is_junk(value: str) -> bool:
    return value.strip().lower() in JUNK_VALUES


def normalize(kind: IdentityKind, value: str) -> str | None:
    """The canonical form of an identity value, or None when it is junk and must not link."""
    value = value.strip()
    if is_junk(value):
        return None
    if kind is IdentityKind.EMAIL:
        value = value.lower()
        return value if "@" in value[1:-1] else None
    if kind is IdentityKind.PHONE:
        digits = _PHONE_KEEP.sub("", value)
        digits = ("+" if digits.startswith("+") else "") + digits.replace("+", "")
        return digits if sum(c.isdigit() for c in digits) >= 6 and not is_junk(digits.lstrip("+")) else None
    return value
