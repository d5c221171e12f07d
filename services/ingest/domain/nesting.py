"""How deep free-form JSON may nest: every consumer must be able to read what ingest accepts."""

from collections.abc import Iterable
from typing import Any

MAX_DEPTH = 32
_CONTAINERS = (dict, list)


def deeper_than(value: Any, limit: int) -> bool:
    """True when `value` nests containers more than `limit` levels deep (the value itself is level 1)."""
    children: Iterable[Any]
    if isinstance(value, dict):
        children = value.values()
    elif isinstance(value, list):
        children = value
    else:
        return False
    if limit < 1:
        return True
    for child in children:
        if isinstance(child, _CONTAINERS) and deeper_than(child, limit - 1):
            return True
    return False
