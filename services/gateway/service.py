"""Use cases of the gateway: accounts, roles, bearer tokens. Each runs in one unit of work; events go to the outbox."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.gateway.adapters.orm import ApiTokenRow, Outbox, UserRoleRow, UserRow
from services.gateway.adapters.passwords import Passwords
from services.gateway.domain.accounts import (
    Account,
    PolicyError,
    check_password,
    check_role_change,
    normalise_email,
    role_set,
)
from shared import outbox
from shared.db import Database
from shared.events import UserRegistered, UserRolesChanged, utcnow

TOKEN_TTL = timedelta(days=30)
# Writing last_used_at on every call would make each API request a write; minutes are precise enough.
LAST_USED_RESOLUTION = timedelta(minutes=5)


class EmailTaken(Exception):
    pass


class NotFound(LookupError):
    pass


class AddressNotVerified(Exception):
    """The password is right but the owner has not confirmed the e-mail address yet (see verification.py)."""


@dataclass(frozen=True)
class NewUser:
    email: str
    password: str
    display_name: str
    organisation: str
    region: str
    roles: tuple[str, ...] = ("attendee",)


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_at: datetime


def _utc(value: datetime) -> datetime:
    # SQLite hands back naive datetimes; everything stored is UTC.
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _account(row: UserRow) -> Account:
    roles = role_set(r.role for r in row.role_rows)
    return Account(row.id, row.email, row.display_name, row.organisation, row.region, roles)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def register_user(db: Database, passwords: Passwords, new: NewUser) -> Account:
    """Create the account and record UserRegistered in the same transaction; EmailTaken if it exists."""
    email = normalise_email(new.email)
    check_password(new.password, email)
    roles = role_set(new.roles)
    password_hash = passwords.hash(new.password)  # slow on purpose: done before the transaction opens
    try:
        with db.unit_of_work() as session:
            if _user_by_email(session, email) is not None:
                raise EmailTaken(email)
            row = UserRow(
                email=email,
                password_hash=password_hash,
                display_name=new.display_name,
                organisation=new.organisation,
                region=new.region,
                role_rows=[UserRoleRow(role=r) for r in roles],
                # Direct registration: verification is off, or an operator vouches (create-organiser).
                email_verified_at=utcnow(),
            )
            session.add(row)
            session.flush()
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
    except IntegrityError:
        raise EmailTaken(email) from None  # a concurrent registration won the unique index


def authenticate(db: Database, passwords: Passwords, email: str, password: str) -> Account | None:
    """The account if the password is right, else None; the same work is done for an unknown e-mail."""
    try:
        email = normalise_email(email)
    except PolicyError:
        passwords.burn_time(password)
        return None
    with db.unit_of_work() as session:
        row = _user_by_email(session, email)
        if row is None:
            passwords.burn_time(password)
            return None
        if not passwords.verify(row.password_hash, password):
            return None
        if row.email_verified_at is None:
            raise AddressNotVerified(email)  # told only to someone who knows the password: no enumeration
        if passwords.needs_rehash(row.password_hash):
            row.password_hash = passwords.hash(password)  # upgrade to today's parameters while we know it
        return _account(row)


def issue_token(db: Database, user_id: int, ttl: timedelta = TOKEN_TTL) -> IssuedToken:
    token = secrets.token_urlsafe(32)
    expires_at = utcnow() + ttl
    with db.unit_of_work() as session:
        session.add(ApiTokenRow(token_hash=token_digest(token), user_id=user_id, expires_at=expires_at))
    return IssuedToken(token, expires_at)


def account_for_token(db: Database, token: str) -> Account | None:
    return account_for_token_hash(db, token_digest(token))


def account_for_token_hash(db: Database, token_hash: str) -> Account | None:
    """The account of a live token known by its hash (what the session cookie carries instead of the token)."""
    now = utcnow()
    with db.unit_of_work() as session:
        row = session.scalar(select(ApiTokenRow).where(ApiTokenRow.token_hash == token_hash))
        if row is None or row.revoked_at is not None or _utc(row.expires_at) <= now:
            return None
        user = session.get(UserRow, row.user_id)
        if user is None:
            return None
        if row.last_used_at is None or now - _utc(row.last_used_at) > LAST_USED_RESOLUTION:
            row.last_used_at = now
        return _account(user)


def revoke_token(db: Database, token: str) -> bool:
    return revoke_token_hash(db, token_digest(token))


def revoke_token_hash(db: Database, token_hash: str) -> bool:
    with db.unit_of_work() as session:
        row = session.scalar(select(ApiTokenRow).where(ApiTokenRow.token_hash == token_hash))
        if row is None or row.revoked_at is not None:
            return False
        row.revoked_at = utcnow()
        return True


def get_account(db: Database, user_id: int) -> Account | None:
    with db.unit_of_work() as session:
        row = session.get(UserRow, user_id)
        return _account(row) if row else None


def find_account(db: Database, email: str) -> Account | None:
    try:
        email = normalise_email(email)
    except PolicyError:
        return None
    with db.unit_of_work() as session:
        row = _user_by_email(session, email)
        return _account(row) if row else None


def set_roles(db: Database, actor: Account, user_id: int, roles: list[str]) -> Account:
    """An organiser sets someone's full role set (the base role is always kept)."""
    wanted = role_set(roles)
    check_role_change(actor.id, user_id, wanted)
    with db.unit_of_work() as session:
        row = session.get(UserRow, user_id)
        if row is None:
            raise NotFound(f"user {user_id}")
        return _apply_roles(session, row, wanted)


@dataclass(frozen=True)
class OrganiserResult:
    account: Account
    created: bool
    promoted: bool  # False when the account already was an organiser


def ensure_organiser(
    db: Database, passwords: Passwords, email: str, password: str, display_name: str, organisation: str, region: str
) -> OrganiserResult:
    """Create an organiser account, or add the organiser role to an existing one (CLI bootstrap)."""
    existing = find_account(db, email)
    if existing is None:
        try:
            new = NewUser(email, password, display_name, organisation, region, ("attendee", "organiser"))
            return OrganiserResult(register_user(db, passwords, new), created=True, promoted=True)
        except EmailTaken:
            pass  # created meanwhile by someone else: fall through and promote it
    with db.unit_of_work() as session:
        row = _user_by_email(session, normalise_email(email))
        if row is None:
            raise NotFound(email)
        current = [r.role for r in row.role_rows]
        account = _apply_roles(session, row, role_set([*current, "organiser"]))
        return OrganiserResult(account, created=False, promoted="organiser" not in current)


def _apply_roles(session: Session, row: UserRow, wanted: tuple[str, ...]) -> Account:
    current = {r.role for r in row.role_rows}
    if row.email_verified_at is None and current != set(wanted):
        # Whoever registered an address first must not receive the promotion meant for its real owner.
        raise PolicyError("roles", "this person has not confirmed their e-mail address yet")
    if current != set(wanted):
        row.role_rows = [r for r in row.role_rows if r.role in wanted] + [
            UserRoleRow(role=r) for r in wanted if r not in current
        ]
        session.flush()
        outbox.record(session, Outbox, UserRolesChanged(user_id=row.id, roles=list(wanted)))
    return _account(row)


def _user_by_email(session: Session, email: str) -> UserRow | None:
    return session.scalar(select(UserRow).where(UserRow.email == email))
