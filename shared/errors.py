"""One JSON error shape for every service: {"error": {"code", "message", "field"}}."""

from __future__ import annotations

import logging

from flask import Flask, jsonify
from pydantic import ValidationError
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field

    def body(self) -> dict[str, dict[str, str | None]]:
        return {"error": {"code": self.code, "message": self.message, "field": self.field}}


def not_found(what: str) -> ApiError:
    return ApiError(404, "not_found", f"{what} not found")


def from_validation_error(exc: ValidationError) -> ApiError:
    first = exc.errors()[0]
    field = ".".join(str(p) for p in first.get("loc", ())) or None
    return ApiError(400, "invalid", first.get("msg", "invalid input"), field)


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError):  # type: ignore[no-untyped-def]
        return jsonify(exc.body()), exc.status

    @app.errorhandler(ValidationError)
    def _validation(exc: ValidationError):  # type: ignore[no-untyped-def]
        err = from_validation_error(exc)
        return jsonify(err.body()), err.status

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):  # type: ignore[no-untyped-def]
        code = (exc.name or "error").lower().replace(" ", "_")
        return jsonify({"error": {"code": code, "message": exc.description, "field": None}}), exc.code

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):  # type: ignore[no-untyped-def]
        log.exception("unhandled error")
        return jsonify({"error": {"code": "server_error", "message": "internal error", "field": None}}), 500
