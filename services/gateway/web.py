"""Browser pages: home (insight days), sign in, register, sign out, notifications."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import Blueprint, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user
from werkzeug.exceptions import TooManyRequests
from werkzeug.wrappers import Response

from services.gateway import service
from services.gateway.auth import SESSION_TTL, SessionUser, passwords
from services.gateway.domain.accounts import Account, PolicyError, self_service_roles
from services.gateway.forms import LoginForm, LogoutForm, RegisterForm
from services.gateway.login_throttle import client_address, login_throttle
from services.gateway.pages import verify_email
from services.gateway.proxy import fetch_json
from services.gateway.socket_sessions import end_sockets
from shared.errors import ApiError
from shared.service_app import db

bp = Blueprint("web", __name__)


def _safe_next(target: str | None) -> str:
    """Only same-site paths: `next` must not turn sign-in into an open redirect. Browsers drop tabs and newlines
    from a URL (`/%09/evil.com` becomes `//evil.com`) and read `\\` as `/`, so any control character, space or
    backslash sends the person home instead, as does anything with a scheme or a host."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return url_for("web.index")
    if any(ord(c) < 0x21 or ord(c) == 0x7F for c in target):
        return url_for("web.index")
    parts = urlsplit(target)
    return url_for("web.index") if parts.scheme or parts.netloc else target


def _start_session(account: Account) -> None:
    session.clear()  # a fresh session on sign-in (no fixation of an earlier one)
    issued = service.issue_token(db(), account.id, ttl=SESSION_TTL)
    session.permanent = True
    login_user(SessionUser(account, service.token_digest(issued.token)))  # the cookie never holds the token


@bp.get("/")
def index():  # type: ignore[no-untyped-def]
    events: list[dict[str, Any]] = []
    error = None
    if current_user.is_authenticated:
        try:
            events = fetch_json("matching", "/api/v1/events", current_user.account).get("items", [])
        except ApiError:
            error = "Insight days cannot be shown right now. Please try again in a moment."
    return render_template("index.html", events=events, error=error)


@bp.route("/login", methods=["GET", "POST"])
def login():  # type: ignore[no-untyped-def]
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        email, address = form.email.data or "", client_address()
        wait_s = login_throttle().wait_seconds(email, address)
        if wait_s:
            raise TooManyRequests(retry_after=wait_s)  # the "Slow down" page, before the password is checked
        account = service.authenticate(db(), passwords(), email, form.password.data or "")
        if account is not None:
            login_throttle().succeeded(email, address)
            _start_session(account)
            return redirect(_safe_next(request.args.get("next")))
        login_throttle().failed(email, address)
        form.form_errors.append("E-mail or password is wrong.")
        status = 401
    elif request.method == "POST":
        status = 400
    return render_template("login.html", form=form), status


@bp.route("/register", methods=["GET", "POST"])
def register():  # type: ignore[no-untyped-def]
    form = RegisterForm()
    if form.validate_on_submit():
        try:
            new = service.NewUser(
                form.email.data or "",
                form.password.data or "",
                (form.display_name.data or "").strip(),
                (form.organisation.data or "").strip(),
                (form.region.data or "").strip(),
                self_service_roles(form.role.data or "attendee"),
            )
            if verify_email.enabled():  # one answer for new and taken addresses
                verify_email.request_registration(new)
                return verify_email.page_registration_sent()
            account = service.register_user(db(), passwords(), new)
        except PolicyError as exc:
            getattr(form, exc.field, form.email).errors.append(exc.message)
        except service.EmailTaken:
            form.email.errors.append("An account with this e-mail address already exists.")
        else:
            _start_session(account)
            return redirect(url_for("web.index"))
    status = 400 if request.method == "POST" else 200
    return render_template("register.html", form=form), status


@bp.post("/logout")
def logout() -> Response:
    form = LogoutForm()
    if form.validate_on_submit() and current_user.is_authenticated:
        service.revoke_token_hash(db(), current_user.token_hash)
        end_sockets(current_user.account.id, current_user.token_hash)
        logout_user()
        session.clear()
    return redirect(url_for("web.index"))


@bp.get("/notifications")
@login_required
def notifications():  # type: ignore[no-untyped-def]
    return render_template("notifications.html")


@bp.app_template_filter("in_zone")
def in_zone(iso: str, tz: str, fmt: str) -> str:
    """Stored times are UTC; people read them in the event's own timezone."""
    try:
        return datetime.fromisoformat(iso).astimezone(ZoneInfo(tz)).strftime(fmt)
    except (ValueError, TypeError, ZoneInfoNotFoundError):
        return iso


@bp.app_context_processor
def _layout() -> dict[str, Any]:
    return {"logout_form": LogoutForm()}
