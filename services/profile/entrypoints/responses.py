"""JSON responses rendered with orjson."""

from typing import Any

import orjson
from fastapi import Response


class JsonResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)
