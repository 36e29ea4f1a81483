"""Parse request bodies into pydantic models so every bad field gets a 400 that names it."""

from __future__ import annotations

from typing import TypeVar

from flask import request
from pydantic import BaseModel, ConfigDict

from shared.errors import ApiError

M = TypeVar("M", bound=BaseModel)


class Strict(BaseModel):
    """Base for request bodies: unknown fields are an error, strings are stripped."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def parse_json(model: type[M]) -> M:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ApiError(400, "invalid_json", "request body must be a JSON object", None)
    return model.model_validate(data)  # ValidationError -> 400 via shared.errors


def int_arg(name: str, default: int, *, minimum: int = 1, maximum: int = 10_000) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, "invalid", f"{name} must be an integer", name) from None
    if not minimum <= value <= maximum:
        raise ApiError(400, "invalid", f"{name} must be between {minimum} and {maximum}", name)
    return value
