"""Guards every service's app installs before any view runs: a small body cap, JSON that cannot crash the
parser, and path ids that fit the database.

- Bodies: 64 KiB (`BODY_MAX_BYTES`) unless the view is marked with `@allows_large_body` (uploads, CSV imports)
  or the path matches one of the app's `large_body_paths` (the gateway's proxied uploads). The cap is checked
  against Content-Length before anything is read and also enforced on the stream (chunked bodies), so a 60 MiB
  `[{},{},...]` is refused with 413 without being read, let alone parsed.
- JSON nested deeper than the parser can follow is a 400 `invalid_json`, not a RecursionError (500).
- `<int:...>` in every route is bounded to 1..2**31-1 (Postgres `integer`): a 30-digit id is a 404, not an
  OverflowError or a database error.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from flask import Flask, Request, request
from werkzeug.routing import IntegerConverter

from shared.errors import ApiError

BODY_MAX_BYTES = 64 * 1024
ID_MAX = 2**31 - 1

F = TypeVar("F", bound=Callable[..., Any])


def allows_large_body(view: F) -> F:
    """Mark a view that takes a file (multipart or raw): its body may go up to the app's MAX_CONTENT_LENGTH."""
    view.large_body = True  # type: ignore[attr-defined]
    return view


class BoundedIntConverter(IntegerConverter):
    """`<int:x>` limited to ids a database column can hold; anything longer does not match the route (404)."""

    def __init__(self, url_map: Any, fixed_digits: int = 0, min: int | None = None, max: int | None = None) -> None:  # noqa: A002
        low = 0 if min is None else min
        high = ID_MAX if max is None else max
        super().__init__(url_map, fixed_digits=fixed_digits, min=low, max=high)
        # Matching at most 10 digits keeps the regex from even trying to convert a 30-digit number.
        self.regex = r"\d{1,10}"


class GuardedRequest(Request):
    """Flask's Request whose JSON parsing turns a too-deep document into a 400 instead of a RecursionError, and
    whose body, when it came without a length, is a 413 once it is longer than the cap."""

    streamed_body_limit: int | None = None

    def get_data(self, cache: bool = True, as_text: bool = False, parse_form_data: bool = False) -> Any:
        data = super().get_data(cache=cache, as_text=False, parse_form_data=parse_form_data)
        # werkzeug stops reading a streamed body at max_content_length (set one byte over the cap) without an
        # error: a body that reached it was too long.
        if self.streamed_body_limit is not None and len(data) > self.streamed_body_limit:
            raise ApiError(413, "body_too_large", f"the request body is larger than {self.streamed_body_limit} bytes")
        return data.decode(self.charset if hasattr(self, "charset") else "utf-8", "replace") if as_text else data

    def get_json(self, force: bool = False, silent: bool = False, cache: bool = True) -> Any:
        try:
            return super().get_json(force=force, silent=silent, cache=cache)
        except RecursionError:
            if silent:
                return None
            raise ApiError(400, "invalid_json", "the JSON body is nested too deeply", None) from None


def install_request_guards(app: Flask, large_body_paths: Iterable[tuple[str, str]] = ()) -> None:
    """Call before any blueprint is registered (the int converter is bound when a rule is added)."""
    app.config.setdefault("BODY_MAX_BYTES", BODY_MAX_BYTES)
    app.url_map.converters["int"] = BoundedIntConverter
    app.request_class = GuardedRequest
    patterns = tuple((method.upper(), re.compile(pattern)) for method, pattern in large_body_paths)
    app.extensions["large_body_paths"] = patterns
    # Before everything registered after it (CSRF, rate-limit keys, views): nothing may read a body before its
    # size is settled. (The request id is set just before, so a 413 carries one too.)
    app.before_request(_cap_body)


def _takes_large_body(app: Flask) -> bool:
    view = app.view_functions.get(request.endpoint or "")
    if getattr(view, "large_body", False):
        return True
    return any(request.method == m and p.match(request.path) for m, p in app.extensions["large_body_paths"])


def _cap_body() -> None:
    from flask import current_app

    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    large = _takes_large_body(app)
    limit = app.config["MAX_CONTENT_LENGTH"] if large else app.config["BODY_MAX_BYTES"]
    if limit is None:
        return
    if request.content_length is not None and request.content_length > limit:
        # The routes that take a large body are file uploads (posters, registration CSV), each in a `file` field.
        field = "file" if large else None
        raise ApiError(413, "body_too_large", f"the request body is larger than {limit} bytes", field)
    if request.content_length is None:
        request.max_content_length = limit + 1  # a chunked body: read at most one byte over the cap
        request.streamed_body_limit = limit  # type: ignore[attr-defined]
    else:
        request.max_content_length = limit
