"""Booking mails in a real Chromium against the whole system: an attendee books an author's chat slot in the
browser; both get the in-app notification live (a toast, no reload) and a mail at the SMTP server with a valid
.ics invite in the day's timezone; the secret calendar URL serves the chat through the gateway without a session,
and a tampered one is refused. The organisers' "Mail problems" page loads."""

from __future__ import annotations

import subprocess
from email.message import Message
from pathlib import Path

import pytest
import requests
from icalendar import Calendar
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.e2e.conftest import System
from tests.e2e.helpers import PASSWORD, api_session, sign_in
from tests.support.processes import ROOT, VENV_BIN, wait_until

pytestmark = pytest.mark.e2e

ORGANISER = ("bookings-organiser@example.org", "organiser password 123")
AUTHOR, ATTENDEE = "ada.mail@example.org", "alan.mail@example.org"


def _register(system: System, email: str, name: str, role: str) -> None:
    body = {"email": email, "password": PASSWORD, "display_name": name, "organisation": "North Health Trust",
            "region": "North East", "role": role}  # fmt: skip
    response = requests.post(f"{system.url}/api/v1/auth/register", json=body, timeout=10)
    assert response.status_code == 201, response.text


@pytest.fixture(scope="module")
def project_id(system: System) -> int:
    """A day in London time, Ada's project on it and one open chat slot at 10:00 BST (09:00 UTC)."""
    subprocess.run(
        [str(VENV_BIN / "flask"), "--app", "services.gateway", "create-organiser", ORGANISER[0]]
        + ["--password", ORGANISER[1]],
        cwd=ROOT,
        env=system.env,
        check=True,
        capture_output=True,
    )
    organiser = api_session(system, *ORGANISER)
    day = {"title": "Mail Insight Day", "starts_at": "2030-06-03T08:00:00Z", "ends_at": "2030-06-03T17:00:00Z",
           "timezone": "Europe/London"}  # fmt: skip
    created = organiser.post(f"{system.url}/api/v1/events", json=day, timeout=10)
    assert created.status_code == 201, created.text
    day_id = created.json()["id"]
    wait_until(
        lambda: organiser.get(f"{system.url}/api/v1/events/{day_id}/posters", timeout=10).status_code == 200,
        timeout=30,
        what="posters knowing the event",
    )
    _register(system, AUTHOR, "Ada Lovelace", "author")
    _register(system, ATTENDEE, "Alan Turing", "attendee")
    ada = api_session(system, AUTHOR)
    project = ada.post(
        f"{system.url}/api/v1/events/{day_id}/projects",
        json={
            "title": "Linking GP and hospital records",
            "summary": "How we linked them.",
            "themes": ["data linkage"],
            "learnings": ["One", "Two", "Three"],
        },  # fmt: skip
        timeout=10,
    )
    assert project.status_code == 201, project.text
    new_id = int(project.json()["id"])
    wait_until(
        lambda: ada.get(f"{system.url}/api/v1/projects/{new_id}/chat-slots", timeout=10).json()["known"],
        timeout=30,
        what="matching knowing the project",
    )
    slot = ada.post(
        f"{system.url}/api/v1/projects/{new_id}/chat-slots",
        json={"starts_at": "2030-06-03T09:00:00Z", "minutes": 15},
        timeout=10,
    )
    assert slot.status_code == 201, slot.text
    return new_id


def _page(browser: Browser, problems: list[str]) -> tuple[BrowserContext, Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    page = context.new_page()
    page.on("pageerror", lambda exc: problems.append(f"pageerror: {exc}"))
    page.on("console", lambda msg: msg.type == "error" and problems.append(f"console: {msg.text}"))
    return context, page


def _mail(system: System, to: str, subject: str) -> Message:
    def found() -> Message | None:
        for message in list(system.mailbox.messages):
            if message["X-RcptTo"] == to and message["Subject"] == subject:
                return message
        return None

    return wait_until(found, timeout=60, what=f"mail '{subject}' to {to}\n{system.logs()}")  # type: ignore[return-value]


def _invite(message: Message) -> Calendar:
    parts = [p for p in message.walk() if p.get_content_type() == "text/calendar"]
    assert len(parts) == 1 and parts[0].get_param("method") == "REQUEST"
    return Calendar.from_ical(parts[0].get_payload(decode=True))


def test_a_chat_booked_in_the_browser_notifies_both_live_and_mails_an_invite(
    system: System, browser: Browser, project_id: int, tmp_path: Path
) -> None:
    problems: list[str] = []
    contexts: list[BrowserContext] = []
    try:
        ada_context, ada = _page(browser, problems)
        alan_context, alan = _page(browser, problems)
        contexts += [ada_context, alan_context]
        sign_in(ada, system.url, AUTHOR)
        sign_in(alan, system.url, ATTENDEE)
        ada.goto(f"{system.url}/")
        alan.goto(f"{system.url}/projects/{project_id}")
        for page in (ada, alan):
            expect(page.locator("html")).to_have_attribute("data-live", "connected", timeout=30_000)

        alan.get_by_role("button", name="Book Mon 3 Jun, 10:00–10:15").click()
        expect(alan.locator("#chat-slots .chat-slot-state").first).to_have_text("Booked by you")

        # Live, without a reload: a toast on each person's open page.
        for page, title in ((ada, "Chat with Alan Turing booked"), (alan, "Chat with Ada Lovelace booked")):
            toast = page.locator("#toasts .toast", has_text=title)
            expect(toast).to_have_count(1, timeout=30_000)
            expect(toast.locator(".toast-body")).to_have_text("Monday 3 June 2030, 10:00-10:15 (Europe/London)")
        ada.screenshot(path=str(tmp_path / "author-toast.png"), full_page=True)

        # Mails at the SMTP server, each with a valid invite at 10:00 London time.
        uids = set()
        for to, subject in ((AUTHOR, "Chat with Alan Turing booked"), (ATTENDEE, "Chat with Ada Lovelace booked")):
            message = _mail(system, to, subject)
            calendar = _invite(message)
            event = calendar.walk("VEVENT")[0]
            assert event["DTSTART"].params["TZID"] == "Europe/London"
            assert event.decoded("DTSTART").isoformat() == "2030-06-03T10:00:00+01:00"
            assert int(event["SEQUENCE"]) == 0
            uids.add(str(event["UID"]))
            assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert len(uids) == 1 and uids.pop().startswith("chat-")

        # The secret calendar URL: no session needed; a tampered one is refused.
        alan_api = api_session(system, ATTENDEE)
        created = alan_api.post(f"{system.url}/api/v1/me/calendar-token", timeout=10)
        assert created.status_code == 201, created.text
        token = created.json()["token"]
        feed = requests.get(f"{system.url}/calendar/{token}.ics", timeout=10)
        assert feed.status_code == 200 and feed.headers["Content-Type"].startswith("text/calendar")
        assert [str(e["SUMMARY"]) for e in Calendar.from_ical(feed.content).walk("VEVENT")] == [
            "1-1 chat with Ada Lovelace"
        ]
        tampered = token[:-1] + ("A" if token[-1] != "A" else "B")
        assert requests.get(f"{system.url}/calendar/{tampered}.ics", timeout=10).status_code == 404
        assert alan_api.get(f"{system.url}/api/v1/me/calendar.ics", timeout=10).status_code == 200

        # The organisers' page of mails that did not go out (none here), and attendees are kept out.
        organiser_context, organiser = _page(browser, problems)
        contexts.append(organiser_context)
        sign_in(organiser, system.url, ORGANISER[0], ORGANISER[1])
        organiser.goto(f"{system.url}/status")
        organiser.get_by_role("link", name="Mail problems").click()
        expect(organiser).to_have_url(f"{system.url}/notify/failed-emails")
        expect(organiser.get_by_role("heading", name="Mail problems")).to_be_visible()
        expect(organiser.get_by_text("No failed or uncertain mails.")).to_be_visible()
        assert not problems, problems
        # (checked after the others: the browser logs the refused page as a console error)
        assert alan.goto(f"{system.url}/notify/failed-emails").status == 403  # type: ignore[union-attr]
    finally:
        for context in contexts:
            context.close()
