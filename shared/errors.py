"""One JSON error shape for every service: {"error": {"code", "message", "field"}}."""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify
from pydantic import ValidationError
from werkzeug.exceptions import HTTPException

from shared.resilience import is_transient

log = logging.getLogger(__name__)

UNAVAILABLE_MESSAGE = "the service is briefly unavailable (its database or Redis is down); nothing was saved, try again"


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


def error_response(exc: Exception) -> tuple[Response, int]:
    """The JSON error for any exception: ours, a validation error, an HTTP error, or a bug (logged, 500)."""
    if isinstance(exc, ValidationError):
        exc = from_validation_error(exc)
    if isinstance(exc, ApiError):
        return jsonify(exc.body()), exc.status
    if isinstance(exc, HTTPException):
        code = (exc.name or "error").lower().replace(" ", "_")
        return jsonify({"error": {"code": code, "message": exc.description, "field": None}}), exc.code or 500
    if isinstance(exc, OverflowError):
        # A date or number from the request past what Python or the database can hold (0001-01-01T00:00+01:00 has
        # no UTC form): the input is wrong, nothing was written.
        log.warning("input out of range", extra={"error": f"{type(exc).__name__}: {exc}"[:300]})
        message = "a date or number in the request is out of range"
        return jsonify({"error": {"code": "out_of_range", "message": message, "field": None}}), 400
    if is_transient(exc):
        # The database or Redis is briefly down: the transaction rolled back, nothing was written; say so and
        # ask the client to retry instead of answering with a server error.
        log.warning("dependency unavailable", extra={"error": f"{type(exc).__name__}: {exc}"[:300]})
        response = jsonify({"error": {"code": "unavailable", "message": UNAVAILABLE_MESSAGE, "field": None}})
        response.headers["Retry-After"] = "5"
        return response, 503
    log.exception("unhandled error", exc_info=exc)
    return jsonify({"error": {"code": "server_error", "message": "internal error", "field": None}}), 500


def register_error_handlers(app: Flask) -> None:
    for kind in (ApiError, ValidationError, HTTPException, Exception):
        app.register_error_handler(kind, error_response)
