"""How deep free-form JSON may nest: every consumer must be able to read what ingest accepts."""

from collections.abc import Iterable
from typing import Any

MAX_DEPTH = 32
FREE_FORM_FIELDS = ("traits", "traits_set_once", "properties", "context")


def deeper_than(value: Any, limit: int) -> bool:
    """True when `value` nests containers more than `limit` levels deep (the value itself is level 1)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        children: Iterable[Any]
        if isinstance(node, dict):
            children = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False
