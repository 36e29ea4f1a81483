"""Per-user upload rate limit (flask-limiter, counters in Redis so every web process shares them)."""

from __future__ import annotations

from flask import Blueprint, Flask, current_app, request
from flask_limiter import Limiter

from shared.auth import current_identity


def user_key() -> str:
    """Key uploads by account: many attendees of one organisation share one NAT address."""
    identity = current_identity()
    return f"user:{identity.user_id}" if identity else f"ip:{request.remote_addr}"


def init_upload_limits(app: Flask, uploads_bp: Blueprint) -> Limiter:
    limiter = Limiter(
        key_func=user_key,
        app=app,
        storage_uri=app.config["REDIS_URL"],
        enabled=bool(app.config["RATE_LIMITS"]),
        key_prefix="posters",
        headers_enabled=True,
    )
    # Only POSTs (uploads and replacements) count; the blueprint holds nothing else.
    limiter.limit(lambda: current_app.config["UPLOAD_RATE_LIMIT"], key_func=user_key, methods=["POST"])(uploads_bp)
    app.extensions["posters_limiter"] = limiter
    return limiter
