"""Why an event or a request was refused: a machine-readable code and a sentence."""

from dataclasses import dataclass
from enum import StrEnum


class Code(StrEnum):
    INVALID_JSON = "invalid_json"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    BODY_TOO_LARGE = "body_too_large"
    BATCH_TOO_LARGE = "batch_too_large"
    EVENT_TOO_LARGE = "event_too_large"
    INVALID_FIELD = "invalid_field"
    MISSING_IDENTITY = "missing_identity"
    MISSING_ORDER = "missing_order"
    SERVER_OWNED_FIELD = "server_owned_field"
    UNKNOWN_FIELD = "unknown_field"
    INVALID_TYPE = "invalid_type"
    SUPPRESSED = "suppressed"
    RATE_LIMITED = "rate_limited"
    UNAUTHORIZED = "unauthorized"
    FORBIDDEN = "forbidden"
    UNAVAILABLE = "unavailable"


@dataclass(frozen=True, slots=True)
class Rejection:
    code: Code
    message: str
    path: str | None = None

    def under(self, prefix: str) -> "Rejection":
        """The same rejection with its path placed under `prefix` (e.g. 'batch[3]')."""
        if not prefix:
            return self
        path = prefix if not self.path else f"{prefix}.{self.path}"
        return Rejection(self.code, self.message, path)

    def as_json(self) -> dict[str, str]:
        body = {"code": self.code.value, "message": self.message}
        if self.path:
            body["path"] = self.path
        return body
