"""Errors are part of the API: every rejection carries a machine-readable code and a sentence."""

import orjson
from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel


class ErrorBody(BaseModel):
    code: str
    message: str
    path: str | None = None


class ErrorResponse(BaseModel):
    error: ErrorBody


class ApiError(Exception):
    def __init__(
        self, status: int, code: str, message: str, *, path: str | None = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.path = status, code, message, path
        self.headers = headers or {}


def error_json(code: str, message: str, path: str | None = None) -> dict[str, object]:
    body: dict[str, object] = {"code": code, "message": message}
    if path is not None:
        body["path"] = path
    return {"error": body}


def json_error(body: dict[str, object], status: int, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status_code=status, headers=headers, media_type="application/json")


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(_: Request, exc: ApiError) -> Response:
        return json_error(error_json(exc.code, exc.message, exc.path), exc.status, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        path = ".".join(str(p) for p in first.get("loc", ()))
        return json_error(error_json("invalid_request", str(first.get("msg")), path), 422)
