"""Identity pairs as the graph stores them: (kind, normalized value), junk values dropped."""

from shared.events import Identities
from shared.identities import IdentityKind, normalize

IdentityPair = tuple[str, str]

CUSTOMER_ID = IdentityKind.CUSTOMER_ID.value


def kind_of(kind: str) -> IdentityKind:
    return IdentityKind.EXTERNAL if kind.startswith("external:") else IdentityKind(kind)


def normalized_pair(kind: str, value: str) -> IdentityPair | None:
    """The pair as stored, or None for a junk value or an unknown kind."""
    try:
        identity_kind = kind_of(kind)
    except ValueError:
        return None
    normal = normalize(identity_kind, value)
    return None if normal is None else (kind, normal)


def usable_pairs(identities: Identities) -> list[IdentityPair]:
    """Normalized pairs, strongest first (as Identities.pairs()); junk values never link, so they are left out."""
    out: list[IdentityPair] = []
    for kind, value in (
        (IdentityKind.CUSTOMER_ID, identities.customer_id),
        (IdentityKind.EMAIL, identities.email),
        (IdentityKind.PHONE, identities.phone),
    ):
        if value is not None and (normal := normalize(kind, value)) is not None:
            out.append((kind.value, normal))
    for name, value in sorted(identities.external.items()):
        if (normal := normalize(IdentityKind.EXTERNAL, value)) is not None:
            out.append((f"external:{name}", normal))
    anonymous = identities.anonymous_id
    if anonymous is not None and (normal := normalize(IdentityKind.ANONYMOUS_ID, anonymous)) is not None:
        out.append((IdentityKind.ANONYMOUS_ID.value, normal))
    return out


def customer_id_of(pairs: list[IdentityPair]) -> str | None:
    return next((value for kind, value in pairs if kind == CUSTOMER_ID), None)
