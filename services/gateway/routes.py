"""Which service owns which /api/v1 path. First match wins, so the more specific patterns come first."""

from __future__ import annotations

import re

GATEWAY = "gateway"

_SEG = r"[^/]+"
_END = r"(?:/.*)?$"  # the path itself or anything under it

ROUTE_TABLE: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), owner)
    for pattern, owner in (
        (rf"^/api/v1/auth{_END}", GATEWAY),
        (r"^/api/v1/me/?$", GATEWAY),
        (rf"^/api/v1/users{_END}", GATEWAY),
        (rf"^/api/v1/chat-rooms{_END}", GATEWAY),
        (rf"^/api/v1/me/notifications{_END}", "notify"),
        (r"^/api/v1/me/calendar\.ics$", "notify"),
        (r"^/api/v1/me/calendar-token$", "notify"),
        (rf"^/api/v1/notify{_END}", "notify"),
        (rf"^/api/v1/me/notification-settings{_END}", "notify"),
        (rf"^/api/v1/me/followup{_END}", "notify"),
        (rf"^/api/v1/followup{_END}", "notify"),
        (rf"^/api/v1/me/chat-bookings{_END}", "matching"),
        (rf"^/api/v1/me/profile{_END}", "matching"),
        (rf"^/api/v1/me/contact-requests{_END}", "matching"),
        (rf"^/api/v1/contact-requests{_END}", "matching"),
        (rf"^/api/v1/coffee-rounds{_END}", "matching"),
        (rf"^/api/v1/events/{_SEG}/projects{_END}", "posters"),
        (rf"^/api/v1/events/{_SEG}/posters{_END}", "posters"),
        (rf"^/api/v1/events/{_SEG}/facets{_END}", "posters"),
        (rf"^/api/v1/events/{_SEG}/upload-failures{_END}", "posters"),
        (rf"^/api/v1/events/{_SEG}/author-approval{_END}", "posters"),
        (rf"^/api/v1/me/projects{_END}", "posters"),
        (rf"^/api/v1/projects/{_SEG}/chat-slots{_END}", "matching"),
        (rf"^/api/v1/projects/{_SEG}/posters{_END}", "posters"),
        (rf"^/api/v1/projects{_END}", "posters"),
        (rf"^/api/v1/posters{_END}", "posters"),
        (rf"^/api/v1/questions{_END}", "posters"),
        (rf"^/api/v1/chat-slots{_END}", "matching"),
        (rf"^/api/v1/events{_END}", "matching"),
    )
)


def owner_of(path: str) -> str | None:
    for pattern, owner in ROUTE_TABLE:
        if pattern.match(path):
            return owner
    return None
