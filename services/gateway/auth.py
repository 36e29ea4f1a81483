"""Who is calling the gateway: a bearer token, or a Flask-Login session cookie that points at a token.

Both kinds of credential are rows in `api_tokens` (only the SHA-256 stored), so logging out revokes either one
on the server, not just in the browser. Unsafe calls authenticated by the cookie must carry X-CSRFToken.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from flask import Flask, current_app, g, request
from flask_login import LoginManager, UserMixin, current_user
from flask_wtf.csrf import generate_csrf, validate_csrf
from wtforms import ValidationError

from services.gateway import service
from services.gateway.adapters.passwords import Passwords
from services.gateway.domain.accounts import Account
from shared.auth import Identity, sign_identity
from shared.errors import ApiError
from shared.service_app import db

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
SESSION_TTL = timedelta(days=14)


class SessionUser(UserMixin):
    """Flask-Login's user. The session cookie (signed, not encrypted) carries only the hash of the session's
    token, the key of its `api_tokens` row: a leaked cookie is no bearer token, and the raw token is never kept."""

    def __init__(self, account: Account, token_hash: str) -> None:
        self.account = account
        self.token_hash = token_hash

    def get_id(self) -> str:
        return self.token_hash


@dataclass(frozen=True)
class Caller:
    account: Account
    via: str  # "token" | "session"
    token_hash: str = field(repr=False)  # revoking it ends this credential (logout)


def passwords() -> Passwords:
    return current_app.extensions["passwords"]


def init_auth(app: Flask) -> None:
    manager = LoginManager(app)
    manager.login_view = "web.login"

    @manager.user_loader
    def _load(token_hash: str) -> SessionUser | None:
        account = service.account_for_token_hash(db(), token_hash)
        return SessionUser(account, token_hash) if account else None

    app.jinja_env.globals["csrf_token"] = generate_csrf
    app.before_request(_check_api_csrf)


def bearer_token() -> str | None:
    """The bearer token of this request; "" when an Authorization header is there but malformed."""
    header = request.headers.get("Authorization")
    if header is None:
        return None
    scheme, _, token = header.strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def current_caller() -> Caller | None:
    if "caller" not in g:
        g.caller = _resolve_caller()
    return g.caller


def _resolve_caller() -> Caller | None:
    token = bearer_token()
    if token is not None:
        # An Authorization header decides alone: a bad token is not rescued by a cookie.
        account = service.account_for_token(db(), token) if token else None
        return Caller(account, "token", service.token_digest(token)) if account else None
    if current_user.is_authenticated:
        return Caller(current_user.account, "session", current_user.token_hash)
    return None


def require_caller(*roles: str) -> Caller:
    caller = current_caller()
    if caller is None:
        raise ApiError(401, "unauthenticated", "sign in first")
    if roles and not any(caller.account.has_role(r) for r in roles):
        raise ApiError(403, "forbidden", f"requires role: {' or '.join(roles)}")
    return caller


def identity_of(account: Account) -> Identity:
    return Identity(
        user_id=account.id,
        email=account.email,
        display_name=account.display_name,
        organisation=account.organisation,
        region=account.region,
        roles=list(account.roles),
    )


def identity_header(account: Account, audience: str) -> str:
    """The signed identity for one call to `audience` (the target service refuses a token meant for another)."""
    return sign_identity(identity_of(account), current_app.config["IDENTITY_KEYS"].private, audience)


def _check_api_csrf() -> None:
    """JSON calls that ride on the browser's cookie need the CSRF header; bearer calls carry no ambient
    credential, and a request without the session cookie has nothing a forged request could borrow.

    Only headers are read: touching request.form would consume a multipart body the proxy must stream on."""
    if request.method in SAFE_METHODS or not request.path.startswith("/api/"):
        return
    if request.headers.get("Authorization") is not None:
        return
    if current_app.config["SESSION_COOKIE_NAME"] not in request.cookies:
        return
    token = request.headers.get("X-CSRFToken") or request.headers.get("X-CSRF-Token")
    try:
        validate_csrf(token)
    except ValidationError as exc:
        raise ApiError(403, "csrf_failed", str(exc.args[0] if exc.args else "CSRF check failed")) from None
