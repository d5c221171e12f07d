"""Suppressions: identities of erased people, passed from the profile service to ingest over
Kafka (topic suppressions.v1). Only fingerprints travel, never the identity values."""

import hashlib

from pydantic import BaseModel, ConfigDict

from shared.identities import IdentityKind, normalize


class Suppression(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    fingerprint: str  # sha256 hex of "<kind>:<normalized value>"
    erased_profile_id: str

    def to_json(self) -> bytes:
        return self.model_dump_json().encode()

    @classmethod
    def from_json(cls, raw: bytes) -> "Suppression":
        return cls.model_validate_json(raw)


def _kind_of(kind: str) -> IdentityKind:
    return IdentityKind.EXTERNAL if kind.startswith("external:") else IdentityKind(kind)


def fingerprint(kind: str, value: str) -> str | None:
    """Fingerprint of an identity pair as Identities.pairs() yields it; None for junk values."""
    normal = normalize(_kind_of(kind), value)
    return None if normal is None else hashlib.sha256(f"{kind}:{normal}".encode()).hexdigest()
