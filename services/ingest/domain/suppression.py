"""Is any identity of an event suppressed (its person erased)?"""

from collections.abc import Iterable, Set

from shared.suppression import fingerprint


def suppressed(pairs: Iterable[tuple[str, str]], fingerprints: Set[str]) -> bool:
    """`pairs` as Identities.pairs(): (kind, value), external ids as ('external:<name>', value)."""
    if not fingerprints:
        return False
    return any(fingerprint(kind, value) in fingerprints for kind, value in pairs)
