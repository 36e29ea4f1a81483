"""Notification preferences in a real Chromium against the whole system: an attendee switches chat-booking mails
off on the Preferences page; the next booking mails the author but not them, while the in-app notification still
shows; switched back on, the cancellation reaches them by mail. The author stops booking mails from the link in
one (confirm page, then the button); a tampered link is refused; a mail client's one-click POST works without a
session."""

from __future__ import annotations

import subprocess
from email.message import Message
from urllib.parse import urlsplit

import pytest
import requests
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.e2e.conftest import System
from tests.e2e.helpers import PASSWORD, api_session, sign_in
from tests.support.processes import ROOT, VENV_BIN, wait_until

pytestmark = pytest.mark.e2e

ORGANISER = ("prefs-organiser@example.org", "organiser password 123")
AUTHOR, ATTENDEE = "grace.prefs@example.org", "edsger.prefs@example.org"
BOOKED_FOR_ATTENDEE = "Chat with Grace Hopper booked"


def _register(system: System, email: str, name: str, role: str) -> None:
    body = {"email": email, "password": PASSWORD, "display_name": name, "organisation": "South Health Board",
            "region": "South West", "role": role}  # fmt: skip
    response = requests.post(f"{system.url}/api/v1/auth/register", json=body, timeout=10)
    assert response.status_code == 201, response.text


@pytest.fixture(scope="module")
def slot_id(system: System) -> int:
    """A day in Paris time with Grace's project and one open chat slot."""
    subprocess.run(
        [str(VENV_BIN / "flask"), "--app", "services.gateway", "create-organiser", ORGANISER[0]]
        + ["--password", ORGANISER[1]],
        cwd=ROOT, env=system.env, check=True, capture_output=True,
    )  # fmt: skip
    organiser = api_session(system, *ORGANISER)
    day = {"title": "Preferences Day", "starts_at": "2030-09-10T07:00:00Z", "ends_at": "2030-09-10T16:00:00Z",
           "timezone": "Europe/Paris"}  # fmt: skip
    created = organiser.post(f"{system.url}/api/v1/events", json=day, timeout=10)
    assert created.status_code == 201, created.text
    day_id = created.json()["id"]
    wait_until(
        lambda: organiser.get(f"{system.url}/api/v1/events/{day_id}/posters", timeout=10).status_code == 200,
        timeout=30, what="posters knowing the event",
    )  # fmt: skip
    _register(system, AUTHOR, "Grace Hopper", "author")
    _register(system, ATTENDEE, "Edsger Dijkstra", "attendee")
    grace = api_session(system, AUTHOR)
    project = grace.post(
        f"{system.url}/api/v1/events/{day_id}/projects",
        json={
            "title": "Shared cohort definitions",
            "summary": "How we agreed them.",
            "themes": ["cohorts"],
            "learnings": ["One", "Two", "Three"],
        },  # fmt: skip
        timeout=10,
    )
    assert project.status_code == 201, project.text
    project_id = int(project.json()["id"])
    wait_until(
        lambda: grace.get(f"{system.url}/api/v1/projects/{project_id}/chat-slots", timeout=10).json()["known"],
        timeout=30, what="matching knowing the project",
    )  # fmt: skip
    slot = grace.post(
        f"{system.url}/api/v1/projects/{project_id}/chat-slots",
        json={"starts_at": "2030-09-10T08:00:00Z", "minutes": 15}, timeout=10,
    )  # fmt: skip
    assert slot.status_code == 201, slot.text
    return int(slot.json()["id"])


def _page(browser: Browser, problems: list[str]) -> tuple[BrowserContext, Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    page = context.new_page()
    page.on("pageerror", lambda exc: problems.append(f"pageerror: {exc}"))
    return context, page


def _mails(system: System, to: str, subject_part: str) -> list[Message]:
    return [m for m in list(system.mailbox.messages) if m["X-RcptTo"] == to and subject_part in str(m["Subject"])]


def _wait_mail(system: System, to: str, subject_part: str) -> Message:
    found = wait_until(
        lambda: _mails(system, to, subject_part), timeout=60, what=f"mail '{subject_part}' to {to}\n{system.logs()}"
    )
    return found[0]  # type: ignore[index]


def test_a_category_switched_off_in_the_browser_is_not_mailed_but_still_shown(
    system: System, browser: Browser, slot_id: int
) -> None:
    problems: list[str] = []
    contexts: list[BrowserContext] = []
    try:
        context, page = _page(browser, problems)
        contexts.append(context)
        sign_in(page, system.url, ATTENDEE)
        page.get_by_role("link", name="Preferences", exact=True).click()
        expect(page.get_by_role("heading", name="Notification preferences")).to_be_visible()
        bookings_mail = page.get_by_label("Chat bookings by e-mail")
        expect(bookings_mail).to_have_value("now")
        bookings_mail.select_option("off")
        page.get_by_role("button", name="Save preferences").click()
        expect(page.locator("#page-status")).to_have_text("Your preferences are saved.")
        expect(page.get_by_label("Chat bookings by e-mail")).to_have_value("off")  # after the reload: stored
        expect(page.locator("#in-app-bookings")).to_be_checked()

        # A bad value is refused with the field named, and nothing changes.
        page.get_by_label("Time zone").fill("Mars/Olympus")
        page.get_by_role("button", name="Save preferences").click()
        expect(page.locator(".form-alert")).to_contain_text("(timezone)")
        expect(page.get_by_label("Time zone")).to_have_attribute("aria-invalid", "true")

        edsger = api_session(system, ATTENDEE)
        booked = edsger.post(f"{system.url}/api/v1/chat-slots/{slot_id}/booking", timeout=10)
        assert booked.status_code == 201, booked.text
        _wait_mail(system, AUTHOR, "Chat with Edsger Dijkstra booked")  # the author still wants these

        # In the app it is there for the attendee all the same.
        page.goto(f"{system.url}/notifications")
        expect(page.locator(".notification-title", has_text=BOOKED_FOR_ATTENDEE)).to_have_count(1, timeout=30_000)

        # Switched back on, the cancellation mails the attendee: once it has arrived, a booking mail sent to them
        # earlier would have arrived before it (one worker, one queue). None did.
        page.goto(f"{system.url}/preferences")
        page.get_by_label("Chat bookings by e-mail").select_option("now")
        page.get_by_role("button", name="Save preferences").click()
        expect(page.locator("#page-status")).to_have_text("Your preferences are saved.")
        assert edsger.delete(f"{system.url}/api/v1/chat-slots/{slot_id}/booking", timeout=10).status_code == 204
        _wait_mail(system, ATTENDEE, "Chat with Grace Hopper cancelled")
        assert _mails(system, ATTENDEE, BOOKED_FOR_ATTENDEE) == []
        assert not problems, problems
    finally:
        for context in contexts:
            context.close()


def test_the_unsubscribe_link_of_a_mail_in_the_browser_and_one_click(
    system: System, browser: Browser, slot_id: int
) -> None:
    mail = _wait_mail(system, AUTHOR, "Chat with Edsger Dijkstra booked")
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    link = str(mail["List-Unsubscribe"]).strip().removeprefix("<").removesuffix(">")
    path = urlsplit(link).path
    assert path.startswith("/unsubscribe/")
    problems: list[str] = []
    context, page = _page(browser, problems)  # no session: the link alone is enough
    try:
        tampered = page.goto(f"{system.url}{path[:-2]}xx")
        assert tampered is not None and tampered.status == 400
        expect(page.get_by_role("heading", name="This link does not work")).to_be_visible()

        page.goto(f"{system.url}{path}")
        expect(page.get_by_role("heading", name="Stop chat bookings e-mails?")).to_be_visible()
        page.get_by_role("button", name="Stop chat bookings e-mails").click()
        expect(page.get_by_role("heading", name="Unsubscribed")).to_be_visible()
        grace = api_session(system, AUTHOR)
        settings = grace.get(f"{system.url}/api/v1/me/notification-settings", timeout=10).json()
        assert settings["categories"]["bookings"] == {"in_app": True, "email": "off"}

        # What a mail client does (RFC 8058): POST the form field, no cookie, no CSRF token. Switch it back on
        # first so the POST has something to change.
        on = {"categories": {"bookings": {"in_app": True, "email": "now"}}}
        assert grace.put(f"{system.url}/api/v1/me/notification-settings", json=on, timeout=10).status_code == 200
        one_click = requests.post(
            f"{system.url}{path}", data={"List-Unsubscribe": "One-Click"}, timeout=10, allow_redirects=False
        )
        assert one_click.status_code == 200, one_click.text
        settings = grace.get(f"{system.url}/api/v1/me/notification-settings", timeout=10).json()
        assert settings["categories"]["bookings"]["email"] == "off"
        refused = requests.post(f"{system.url}{path[:-2]}xx", data={"List-Unsubscribe": "One-Click"}, timeout=10)
        assert refused.status_code == 400
        assert not problems, problems
    finally:
        context.close()
