"""Pure rules of the gateway: e-mail and password policy, role sets, the route table."""

from __future__ import annotations

import pytest

from services.gateway.domain.accounts import (
    PolicyError,
    check_password,
    check_role_change,
    normalise_email,
    role_set,
    self_service_roles,
)
from services.gateway.routes import owner_of


def test_email_is_stripped_and_lower_cased() -> None:
    assert normalise_email("  Ada.Lovelace@Example.ORG ") == "ada.lovelace@example.org"


@pytest.mark.parametrize(
    "raw", ["", "ada", "ada@", "@example.org", "ada@example", "a b@example.org", "x" * 250 + "@e.org"]
)
def test_bad_emails_are_refused_naming_the_field(raw: str) -> None:
    with pytest.raises(PolicyError) as exc:
        normalise_email(raw)
    assert exc.value.field == "email"


@pytest.mark.parametrize(
    "password", ["short", "aaaaaaaaaaaa", "Password123", "1234567890", "ada@example.org", "x" * 257]
)
def test_weak_or_oversized_passwords_are_refused(password: str) -> None:
    with pytest.raises(PolicyError) as exc:
        check_password(password, "ada@example.org")
    assert exc.value.field == "password"


def test_a_passphrase_is_accepted() -> None:
    check_password("correct horse battery", "ada@example.org")


def test_role_set_is_canonical_and_always_includes_attendee() -> None:
    assert role_set(["organiser", "author"]) == ("attendee", "author", "organiser")
    assert role_set([]) == ("attendee",)


def test_unknown_role_is_refused() -> None:
    with pytest.raises(PolicyError) as exc:
        role_set(["admin"])
    assert exc.value.field == "roles"


def test_nobody_makes_themself_organiser_by_registering() -> None:
    assert self_service_roles("author") == ("attendee", "author")
    with pytest.raises(PolicyError) as exc:
        self_service_roles("organiser")
    assert exc.value.field == "role"


def test_an_organiser_cannot_drop_their_own_organiser_role() -> None:
    check_role_change(1, 2, ("attendee",))  # someone else: fine
    check_role_change(1, 1, ("attendee", "organiser"))
    with pytest.raises(PolicyError):
        check_role_change(1, 1, ("attendee", "author"))


@pytest.mark.parametrize(
    ("path", "owner"),
    [
        ("/api/v1/auth/login", "gateway"),
        ("/api/v1/me", "gateway"),
        ("/api/v1/users/3/roles", "gateway"),
        ("/api/v1/chat-rooms/9/messages", "gateway"),
        ("/api/v1/me/notifications", "notify"),
        ("/api/v1/me/notifications/5/read", "notify"),
        ("/api/v1/me/calendar.ics", "notify"),
        ("/api/v1/me/notification-settings", "notify"),
        ("/api/v1/events/1/projects", "posters"),
        ("/api/v1/events/1/posters", "posters"),
        ("/api/v1/events/1/facets", "posters"),
        ("/api/v1/events/1/upload-failures", "posters"),
        ("/api/v1/me/projects", "posters"),
        ("/api/v1/projects/4/posters", "posters"),
        ("/api/v1/projects/4", "posters"),
        ("/api/v1/projects/4/questions", "posters"),
        ("/api/v1/posters/7", "posters"),
        ("/api/v1/projects/4/chat-slots", "matching"),
        ("/api/v1/chat-slots/2/booking", "matching"),
        ("/api/v1/events", "matching"),
        ("/api/v1/events/1/slots", "matching"),
        ("/api/v1/events/1/registration", "matching"),
        ("/api/v1/me/calendar.icsx", None),
        ("/api/v1/eventsfoo", None),
        ("/api/v1/unknown", None),
    ],
)
def test_route_table_first_match_wins(path: str, owner: str | None) -> None:
    assert owner_of(path) == owner
