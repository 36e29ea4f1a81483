"""JSON API the gateway answers itself: accounts, sign-in, the caller, roles."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from flask import Blueprint, jsonify, request, session
from flask_login import logout_user
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from services.gateway import service
from services.gateway.auth import passwords, require_caller
from services.gateway.domain.accounts import Account, PolicyError, self_service_roles
from services.gateway.login_throttle import client_address, login_throttle
from services.gateway.pages import verify_email
from services.gateway.socket_sessions import end_sockets
from shared.errors import ApiError, not_found
from shared.service_app import db
from shared.validation import parse_json

bp = Blueprint("gateway_api", __name__, url_prefix="/api/v1")


Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]
Organisation = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Email = Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=254)]
# Never stripped: a space in a password is part of the password. Length policy lives in the domain.
Password = Annotated[str, Field(min_length=1, max_length=1024)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Registration(_Body):
    email: Email
    password: Password
    display_name: Name
    organisation: Organisation
    region: Name
    role: Literal["attendee", "author"] = "attendee"


class Login(_Body):
    email: Email
    password: Password


class RolesBody(_Body):
    roles: Annotated[list[str], Field(max_length=10)]


def account_json(account: Account) -> dict[str, Any]:
    return {
        "id": account.id,
        "email": account.email,
        "display_name": account.display_name,
        "organisation": account.organisation,
        "region": account.region,
        "roles": list(account.roles),
    }


def policy_error(exc: PolicyError) -> ApiError:
    return ApiError(400, "invalid", exc.message, exc.field)


def email_taken() -> ApiError:
    return ApiError(409, "conflict", "an account with this e-mail address already exists", "email")


def invalid_credentials() -> ApiError:
    # One message for unknown e-mail and wrong password: the answer must not reveal which accounts exist.
    return ApiError(401, "invalid_credentials", "e-mail or password is wrong")


@bp.post("/auth/register")
def register():  # type: ignore[no-untyped-def]
    body = parse_json(Registration)
    try:
        new = service.NewUser(
            body.email, body.password, body.display_name, body.organisation, body.region, self_service_roles(body.role)
        )
        if verify_email.enabled():  # one answer for new and taken addresses
            verify_email.request_registration(new)
            return verify_email.api_registration_sent()
        account = service.register_user(db(), passwords(), new)
    except PolicyError as exc:
        raise policy_error(exc) from None
    except service.EmailTaken:
        raise email_taken() from None
    return jsonify({"id": account.id}), 201


def too_many_failures(wait_s: int):  # type: ignore[no-untyped-def]
    error = ApiError(429, "too_many_requests", "too many failed sign-ins for this account from this address", None)
    return jsonify(error.body()), 429, {"Retry-After": str(wait_s)}


@bp.post("/auth/login")
def login():  # type: ignore[no-untyped-def]
    body = parse_json(Login)
    throttle, address = login_throttle(), client_address()
    wait_s = throttle.wait_seconds(body.email, address)
    if wait_s:
        return too_many_failures(wait_s)  # checked before the password: a blocked guesser learns nothing
    account = service.authenticate(db(), passwords(), body.email, body.password)
    if account is None:
        throttle.failed(body.email, address)
        raise invalid_credentials()
    throttle.succeeded(body.email, address)
    issued = service.issue_token(db(), account.id)
    return jsonify({"token": issued.token, "expires_at": issued.expires_at.isoformat(), "user": account_json(account)})


@bp.post("/auth/logout")
def logout():  # type: ignore[no-untyped-def]
    caller = require_caller()
    service.revoke_token_hash(db(), caller.token_hash)
    end_sockets(caller.account.id, caller.token_hash)  # live connections opened with it end too
    if caller.via == "session":
        logout_user()
        session.clear()
    return "", 204


@bp.get("/me")
def me():  # type: ignore[no-untyped-def]
    return jsonify(account_json(require_caller().account))


@bp.get("/users")
def find_user():  # type: ignore[no-untyped-def]
    """Organisers look someone up by e-mail before promoting them."""
    require_caller("organiser")
    email = request.args.get("email", "")
    if not email.strip():
        raise ApiError(400, "invalid", "email is required", "email")
    account = service.find_account(db(), email)
    return jsonify({"items": [account_json(account)] if account else []})


@bp.get("/users/<int:user_id>")
def get_user(user_id: int):  # type: ignore[no-untyped-def]
    require_caller("organiser")
    account = service.get_account(db(), user_id)
    if account is None:
        raise not_found("user")
    return jsonify(account_json(account))


@bp.put("/users/<int:user_id>/roles")
def set_roles(user_id: int):  # type: ignore[no-untyped-def]
    caller = require_caller("organiser")
    body = parse_json(RolesBody)
    try:
        account = service.set_roles(db(), caller.account, user_id, body.roles)
    except PolicyError as exc:
        raise policy_error(exc) from None
    except service.NotFound:
        raise not_found("user") from None
    end_sockets(account.id)  # open connections carry the old roles: they reconnect with the new ones
    return jsonify(account_json(account))
