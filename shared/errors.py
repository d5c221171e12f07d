"""Errors are part of the API: every rejection carries a machine-readable code and a sentence."""

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import ORJSONResponse
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


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(_: Request, exc: ApiError) -> ORJSONResponse:
        return ORJSONResponse(error_json(exc.code, exc.message, exc.path), status_code=exc.status, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> ORJSONResponse:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        path = ".".join(str(p) for p in first.get("loc", ()))
        return ORJSONResponse(error_json("invalid_request", str(first.get("msg")), path), status_code=422)
