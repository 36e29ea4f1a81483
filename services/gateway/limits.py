"""Rate limits (flask-limiter, counters in Redis): sign-in/registration per IP.

Failed sign-ins per account and address are counted by `login_throttle` (the real guard against password
guessing, inside the views, after the body is parsed under the size cap); the per-IP limit here is generous because
many attendees of one organisation share a NAT address, and its key never reads the body. Limits come from the
config/env; RATE_LIMITS=off switches them all off.
"""

from __future__ import annotations

from flask import Flask, current_app
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from services.gateway.login_throttle import init_login_throttle

LOGIN_ENDPOINTS = ("gateway_api.login", "web.login")
REGISTER_ENDPOINTS = ("gateway_api.register", "web.register")


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
    app.extensions["login_throttle"] = init_login_throttle(app.extensions["redis"], app.config)

    per_ip = limiter.shared_limit(
        lambda: current_app.config["AUTH_IP_RATE_LIMIT"],
        scope="auth-ip",
        methods=["POST"],
        error_message="too many requests from this address, try again later",
    )
    for endpoint in LOGIN_ENDPOINTS:
        app.view_functions[endpoint] = per_ip(app.view_functions[endpoint])
    for endpoint in REGISTER_ENDPOINTS:
        app.view_functions[endpoint] = per_ip(app.view_functions[endpoint])
    return limiter
