"""Texts of the messages we send. Pure: no Flask, no database."""

from __future__ import annotations

from dataclasses import dataclass

WELCOME = "welcome"
POSTER_READY = "poster_ready"
POSTER_REJECTED = "poster_rejected"


@dataclass(frozen=True)
class Message:
    """One thing to tell a user: the in-app notification and, when `email_subject` is set, an email."""

    kind: str
    title: str
    body: str
    link: str
    email_subject: str | None = None
    email_text: str | None = None


def one_line(value: str, limit: int) -> str:
    # Names come from users: keep header-bound text to a single line so it cannot inject mail headers.
    flat = " ".join(value.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def welcome(display_name: str, organisation: str, public_url: str) -> Message:
    name = one_line(display_name, 80) or "there"
    where = f" from {one_line(organisation, 80)}" if organisation.strip() else ""
    link = "/"
    title = f"Welcome to Insight Days, {name}"
    body = (
        f"Hello {name}{where}! Browse the posters of upcoming insight days, tell us your themes so we can "
        "place you in breakouts that fit, and book short 1-1 chats with the authors."
    )
    url = public_url.rstrip("/") + link
    text = "\n".join(
        [
            f"Hello {name},",
            "",
            "welcome to Insight Days: one-day online events where health-data projects share their work.",
            "",
            "What you can do next:",
            "  - browse and search the posters of upcoming insight days;",
            "  - register for a day and rank the themes you care about, so your breakouts fit;",
            "  - book a short 1-1 chat with a poster's authors.",
            "",
            f"Start here: {url}",
            "",
            "You get this email because an account was created with this address.",
            "",
            "The Insight Days team",
        ]
    )
    return Message(WELCOME, title, body, link, email_subject=title, email_text=text)


def poster_ready(project_id: int, poster_id: int, page_count: int) -> Message:
    """In-app only: the author is usually still on the project page waiting for it."""
    pages = "1 page" if page_count == 1 else f"{page_count} pages"
    return Message(
        POSTER_READY,
        "Your poster is ready",
        f"Upload #{poster_id} was processed ({pages}) and is now on show on your project page.",
        f"/projects/{project_id}",
    )


def poster_rejected(project_id: int, poster_id: int, reason: str) -> Message:
    return Message(
        POSTER_REJECTED,
        "Your upload was rejected",
        f"Upload #{poster_id} could not be used: {one_line(reason, 300)}. Please upload another file.",
        f"/projects/{project_id}",
    )
