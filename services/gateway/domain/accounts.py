"""Account rules: e-mail and password policy, role sets. Pure Python, no framework."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

ROLES = ("attendee", "author", "organiser")  # same names as shared.auth.ROLES, in display order
BASE_ROLE = "attendee"  # everyone may attend; the other roles add to it
SELF_SERVICE_ROLES = ("attendee", "author")  # what a person may pick when registering
EMAIL_MAX = 254
PASSWORD_MIN = 10
PASSWORD_MAX = 256  # long enough for passphrases, short enough that hashing stays cheap
_EMAIL = re.compile(r"^[^@\s]+@[^@\s.]+(\.[^@\s.]+)+$")
# NIST 800-63B: no composition rules, but refuse values that are known to be guessed first.
_COMMON = frozenset(
    {"password123", "1234567890", "0123456789", "qwertyuiop", "password1234", "letmein123", "iloveyou12"}
)


class PolicyError(ValueError):
    """A rule was broken; `field` names the input at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Account:
    id: int
    email: str
    display_name: str
    organisation: str
    region: str
    roles: tuple[str, ...]

    def has_role(self, role: str) -> bool:
        return role in self.roles


def normalise_email(raw: str) -> str:
    """Lower-cased and stripped so one mailbox is one account whatever the capitals."""
    email = raw.strip().lower()
    if len(email) > EMAIL_MAX or not _EMAIL.match(email):
        raise PolicyError("email", "enter a valid e-mail address")
    return email


def check_password(password: str, email: str) -> None:
    if len(password) < PASSWORD_MIN:
        raise PolicyError("password", f"use at least {PASSWORD_MIN} characters")
    if len(password) > PASSWORD_MAX:
        raise PolicyError("password", f"use at most {PASSWORD_MAX} characters")
    lowered = password.lower()
    if len(set(password)) < 4 or lowered in _COMMON or lowered == email.lower():
        raise PolicyError("password", "this password is too easy to guess")


def role_set(roles: Iterable[str]) -> tuple[str, ...]:
    """Validated roles in canonical order, always including the base role."""
    wanted = set(roles)
    unknown = sorted(wanted - set(ROLES))
    if unknown:
        raise PolicyError("roles", f"unknown role: {', '.join(unknown)}")
    wanted.add(BASE_ROLE)
    return tuple(r for r in ROLES if r in wanted)


def self_service_roles(role: str) -> tuple[str, ...]:
    """Roles for someone registering themselves: organiser is granted, never chosen."""
    if role not in SELF_SERVICE_ROLES:
        raise PolicyError("role", f"role must be one of: {', '.join(SELF_SERVICE_ROLES)}")
    return role_set([role])


def check_role_change(actor_id: int, target_id: int, new_roles: tuple[str, ...]) -> None:
    """An organiser cannot drop their own organiser role: the day could be left with nobody to run it."""
    if actor_id == target_id and "organiser" not in new_roles:
        raise PolicyError("roles", "you cannot remove your own organiser role")
