"""create_app() for the gateway: accounts, sessions, the /api/v1 proxy, pages, Socket.IO. No work at import."""

from __future__ import annotations

from typing import Any

from argon2 import PasswordHasher
from flask import Flask, Response, request
from werkzeug.middleware.proxy_fix import ProxyFix

from services.gateway.adapters.orm import Outbox
from services.gateway.adapters.passwords import Passwords
from services.gateway.auth import SESSION_TTL, init_auth
from services.gateway.consumers import handlers
from shared.config import env, flag
from shared.service_app import build_app

_HASHER_DEFAULTS = PasswordHasher()
# Proxied routes that take a file: only these may send more than the 64 KiB JSON cap through the gateway
# (the owning service checks who may upload before it reads the body).
UPLOAD_PATHS = (
    ("POST", r"^/api/v1/projects/\d{1,10}/posters$"),
    ("POST", r"^/api/v1/posters/\d{1,10}/replace$"),
    ("POST", r"^/api/v1/events/\d{1,10}/registrations/import$"),
)


def gateway_defaults(is_dev: bool) -> dict[str, Any]:
    """Gateway settings from the environment; a key passed to create_app(config) wins over these."""
    return {
        "LOGIN_FREE_FAILURES": int(env("LOGIN_FREE_FAILURES", "5")),
        "LOGIN_DELAY_BASE_S": float(env("LOGIN_DELAY_BASE_S", "30")),
        "LOGIN_DELAY_MAX_S": float(env("LOGIN_DELAY_MAX_S", "900")),
        "AUTH_IP_RATE_LIMIT": env("AUTH_IP_RATE_LIMIT", "60/minute"),
        "EMAIL_VERIFICATION": flag("EMAIL_VERIFICATION", not is_dev),  # pages/verify_email.py
        "MAX_CONTENT_LENGTH": int(env("MAX_CONTENT_LENGTH", str(64 * 1024 * 1024))),
        "PROXY_CONNECT_TIMEOUT": float(env("PROXY_CONNECT_TIMEOUT", "3")),
        "PROXY_READ_TIMEOUT": float(env("PROXY_READ_TIMEOUT", "60")),
        "PROXY_POOL_SIZE": int(env("PROXY_POOL_SIZE", "64")),
        "TRUSTED_PROXY_HOPS": int(env("TRUSTED_PROXY_HOPS", "0")),
        "ARGON2_TIME_COST": int(env("ARGON2_TIME_COST", str(_HASHER_DEFAULTS.time_cost))),
        "ARGON2_MEMORY_KIB": int(env("ARGON2_MEMORY_KIB", str(_HASHER_DEFAULTS.memory_cost))),
        "ARGON2_PARALLELISM": int(env("ARGON2_PARALLELISM", str(_HASHER_DEFAULTS.parallelism))),
        "SESSION_COOKIE_NAME": "insightdays_session",
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": flag("SESSION_COOKIE_SECURE", not is_dev),
        "PERMANENT_SESSION_LIFETIME": SESSION_TTL,
        "WTF_CSRF_TIME_LIMIT": None,  # valid as long as the session: a page left open for hours still works
    }


CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self' {ws}; font-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'self'"
)


def _security_headers(response: Response) -> Response:
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CSP.format(ws=f"ws://{request.host} wss://{request.host}"))
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    headers.setdefault("X-Frame-Options", "SAMEORIGIN")
    return response


def create_app(config: dict[str, Any] | None = None) -> Flask:
    app = build_app(
        "gateway", __name__, config, outbox_model=Outbox, handlers=handlers, large_body_paths=UPLOAD_PATHS
    )
    app.jinja_env.trim_blocks = app.jinja_env.lstrip_blocks = True
    given = config or {}
    for key, value in gateway_defaults(app.config["SETTINGS"].is_dev).items():
        if key not in given:
            app.config[key] = value
    if app.config["TRUSTED_PROXY_HOPS"] > 0:
        hops = app.config["TRUSTED_PROXY_HOPS"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]
    if app.config["SESSION_COOKIE_SECURE"]:
        app.after_request(_hsts)
    app.after_request(_security_headers)
    app.extensions["passwords"] = Passwords(
        PasswordHasher(
            time_cost=app.config["ARGON2_TIME_COST"],
            memory_cost=app.config["ARGON2_MEMORY_KIB"],
            parallelism=app.config["ARGON2_PARALLELISM"],
        )
    )

    from services.gateway.api import bp as api_bp
    from services.gateway.api_docs import bp as api_docs_bp
    from services.gateway.chat.api import bp as chat_api_bp
    from services.gateway.cli import register_cli
    from services.gateway.error_pages import init_error_pages
    from services.gateway.feature_pages import register_feature_pages
    from services.gateway.limits import init_limits
    from services.gateway.proxy import init_proxy
    from services.gateway.realtime import init_socketio
    from services.gateway.system_status import bp as status_bp
    from services.gateway.vendor import init_vendor
    from services.gateway.web import bp as web_bp
    from services.gateway.web_posters import bp as posters_web_bp

    init_auth(app)
    init_error_pages(app)
    app.register_blueprint(api_bp)
    app.register_blueprint(chat_api_bp)
    app.register_blueprint(api_docs_bp)
    app.register_blueprint(web_bp)
    app.register_blueprint(posters_web_bp)
    app.register_blueprint(status_bp)
    register_feature_pages(app)
    init_vendor(app)
    init_proxy(app)  # its catch-all /api/v1/<path> only gets what no gateway view matched
    init_limits(app)
    init_socketio(app)
    register_cli(app)
    return app


def _hsts(response: Response) -> Response:
    response.headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
    return response
