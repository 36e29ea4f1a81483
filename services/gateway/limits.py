"""Rate limits (flask-limiter, counters in Redis): failed logins per account, sign-in/registration per IP.

Per account is the real guard against password guessing; per IP is generous because many attendees of one
organisation share a NAT address. Limits come from the config/env; RATE_LIMITS=off switches them all off.
"""

from __future__ import annotations

import hashlib

from flask import Flask, current_app, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

LOGIN_ENDPOINTS = ("gateway_api.login", "web.login")
REGISTER_ENDPOINTS = ("gateway_api.register", "web.register")


def _login_account_key() -> str:
    """The account a login attempt is about (hashed: no e-mail addresses in Redis keys)."""
    if request.is_json:
        data = request.get_json(silent=True)
        email = data.get("email") if isinstance(data, dict) else None
    else:
        email = request.form.get("email")
    if not isinstance(email, str) or not email.strip():
        return "ip:" + get_remote_address()
    return "account:" + hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]


def init_limits(app: Flask) -> Limiter:
    app.config["RATELIMIT_ENABLED"] = bool(app.config["RATE_LIMITS"])
    limiter = Limiter(
        key_func=get_remote_address,
        app=app,
        storage_uri=app.config["REDIS_URL"],
        key_prefix="gateway-limits",
        strategy="fixed-window",
        headers_enabled=True,
    )
    app.extensions["gateway_limiter"] = limiter

    failed_logins = limiter.shared_limit(
        lambda: current_app.config["LOGIN_RATE_LIMIT"],
        scope="login-failures",
        key_func=_login_account_key,
        methods=["POST"],
        # Only failures count, but once over the limit even the right password waits: that is the point.
        deduct_when=lambda response: response.status_code == 401,
        error_message="too many failed sign-ins for this account, try again later",
    )
    per_ip = limiter.shared_limit(
        lambda: current_app.config["AUTH_IP_RATE_LIMIT"],
        scope="auth-ip",
        methods=["POST"],
        error_message="too many requests from this address, try again later",
    )
    for endpoint in LOGIN_ENDPOINTS:
        app.view_functions[endpoint] = per_ip(failed_logins(app.view_functions[endpoint]))
    for endpoint in REGISTER_ENDPOINTS:
        app.view_functions[endpoint] = per_ip(app.view_functions[endpoint])
    return limiter
