"""JSON responses rendered with orjson. A JSONResponse, so that the OpenAPI documents each
route's declared response model as its body."""

from typing import Any

import orjson
from fastapi.responses import JSONResponse


class JsonResponse(JSONResponse):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)
