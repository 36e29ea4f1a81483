"""E-mail verification (EMAIL_VERIFICATION, on by default outside development).

Registering answers the same for a new and a taken address, so the answer does not tell whether an account exists:
- a new address gets an inactive account and a signed confirmation link by mail;
- an address with an unconfirmed account gets the new details and a new link (the old links die with the old
  nonce), so whoever typed the address first cannot hold it against its owner;
- a confirmed address is left alone, and its owner is told that someone tried to register with it.
Only confirming the link activates the account: then UserRegistered goes out, the other services learn about the
person and notify sends the welcome mail, the first mail with text the registrant wrote.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.gateway.adapters.orm import Outbox, UserRoleRow, UserRow
from services.gateway.adapters.passwords import Passwords
from services.gateway.domain.accounts import Account, check_password, normalise_email, role_set
from services.gateway.service import NewUser, _account
from shared import outbox
from shared.db import Database
from shared.events import UserRegistered, VerificationRequested, utcnow

LINK_TTL = timedelta(hours=48)
CONFIRM_PATH = "/verify-email"
SIGN_IN_PATH = "/login"
_SALT = "insightdays.email-verification.v1"


class InvalidLink(Exception):
    """The link is forged, expired, or replaced by a newer registration of the same address."""


def _serializer(secret: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt=_SALT)


def confirmation_token(secret: str, user_id: int, nonce: str) -> str:
    return _serializer(secret).dumps({"u": user_id, "n": nonce})


def request_registration(db: Database, passwords: Passwords, new: NewUser, *, secret: str, public_url: str) -> None:
    """Record a registration that waits for its address to be confirmed (see the module docstring)."""
    email = normalise_email(new.email)
    check_password(new.password, email)
    roles = role_set(new.roles)
    password_hash = passwords.hash(new.password)  # for taken addresses too: the same work, the same time
    for attempt in range(2):
        try:
            with db.unit_of_work() as session:
                _record(session, new, email, roles, password_hash, secret, public_url.rstrip("/"))
            return
        except IntegrityError:
            if attempt:  # a concurrent registration of the same address won the unique index twice
                raise
            # one retry: it now finds the other registration's row and treats it like any existing one


def _record(
    session: Session,
    new: NewUser,
    email: str,
    roles: tuple[str, ...],
    password_hash: str,
    secret: str,
    public_url: str,
) -> None:
    row = session.scalar(select(UserRow).where(UserRow.email == email))
    if row is not None and row.email_verified_at is not None:
        taken = VerificationRequested(
            user_id=row.id, email=row.email, purpose="address_taken", link=public_url + SIGN_IN_PATH
        )
        outbox.record(session, Outbox, taken)
        return
    if row is None:
        row = UserRow(email=email, role_rows=[UserRoleRow(role=r) for r in roles])
        session.add(row)
    else:
        row.role_rows = [r for r in row.role_rows if r.role in roles] + [
            UserRoleRow(role=r) for r in roles if r not in {x.role for x in row.role_rows}
        ]
    row.password_hash = password_hash
    row.display_name = new.display_name
    row.organisation = new.organisation
    row.region = new.region
    row.verification_nonce = secrets.token_hex(16)
    session.flush()
    link = f"{public_url}{CONFIRM_PATH}?token={confirmation_token(secret, row.id, row.verification_nonce)}"
    expires_at = (utcnow() + LINK_TTL).isoformat()
    confirm = VerificationRequested(
        user_id=row.id, email=email, purpose="confirm_address", link=link, expires_at=expires_at
    )
    outbox.record(session, Outbox, confirm)


def confirm_address(db: Database, token: str, *, secret: str) -> Account:
    """Activate the account the link was made for and announce it; a second click changes nothing."""
    try:
        data = _serializer(secret).loads(token, max_age=int(LINK_TTL.total_seconds()))
        user_id, nonce = int(data["u"]), str(data["n"])
    except SignatureExpired:
        raise InvalidLink("this link has expired: register again to get a new one") from None
    except (BadSignature, KeyError, TypeError, ValueError):
        raise InvalidLink("this link is not valid") from None
    with db.unit_of_work() as session:
        row = session.get(UserRow, user_id)
        if row is None:
            raise InvalidLink("this link is not valid")
        if row.email_verified_at is not None:
            return _account(row)
        if row.verification_nonce is None or not secrets.compare_digest(row.verification_nonce, nonce):
            raise InvalidLink("a newer link was sent for this address: use the latest mail")
        row.email_verified_at = utcnow()
        row.verification_nonce = None
        account = _account(row)
        outbox.record(
            session,
            Outbox,
            UserRegistered(
                user_id=account.id,
                email=account.email,
                display_name=account.display_name,
                organisation=account.organisation,
                region=account.region,
                roles=list(account.roles),
            ),
        )
        return account
