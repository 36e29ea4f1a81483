"""Browsers get HTML error pages; API clients keep the JSON error shape of shared.errors."""

from __future__ import annotations

from flask import Flask, render_template, request
from werkzeug.exceptions import HTTPException

from shared.errors import ApiError, error_response

TITLES = {
    400: ("Something was wrong with that request", "Please go back and try again."),
    403: ("Not allowed", "Your account may not open this page."),
    404: ("Not found", "There is no page at this address."),
    405: ("Not allowed", "This page cannot be used like that."),
    413: ("Too large", "What you sent is larger than we accept."),
    429: ("Slow down", "Too many attempts in a short time. Please wait a minute and try again."),
    503: ("Briefly unavailable", "Part of the system is restarting. Nothing was saved; please try again in a moment."),
}


def _wants_json() -> bool:
    return request.path.startswith(("/api/", "/healthz", "/socket.io", "/vendor/", "/static/")) or (
        request.accept_mimetypes.best == "application/json"
    )


def _page(status: int):  # type: ignore[no-untyped-def]
    title, message = TITLES.get(status, ("Something went wrong", "Please try again in a moment."))
    return render_template("error.html", title=title, message=message), status


def init_error_pages(app: Flask) -> None:
    def handle(exc: Exception):  # type: ignore[no-untyped-def]
        body, status = error_response(exc)  # logs a bug once, whatever the caller gets
        if _wants_json():
            return body, status
        page, status = _page(status)
        return page, status, {"Retry-After": body.headers["Retry-After"]} if "Retry-After" in body.headers else {}

    for kind in (ApiError, HTTPException, Exception):
        app.register_error_handler(kind, handle)
