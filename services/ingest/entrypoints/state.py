from collections.abc import Callable
from dataclasses import dataclass

from fastapi import Request

from services.ingest.service_layer.intake import Intake
from shared.auth import KeyStore


@dataclass
class IngestState:
    intake: Intake
    keys: KeyStore
    ready: Callable[[], bool]
    max_body_bytes: int
    retry_after_s: int


def state_of(request: Request) -> IngestState:
    state: IngestState = request.app.state.ingest
    return state
