"""Is any identity of an event suppressed (its person erased)?"""

from collections.abc import Set

from shared.events import Identities
from shared.suppression import fingerprint


def suppressed(identities: Identities, fingerprints: Set[str]) -> bool:
    if not fingerprints:
        return False
    return any(fingerprint(kind, value) in fingerprints for kind, value in identities.pairs())
