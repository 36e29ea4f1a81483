"""1-1 chat slots in a real Chromium against the whole system: an author opens two slots on their project page (in
the insight day's timezone); an attendee books one and finds it under "My chats"; a second attendee, whose page
still showed it free, is told it was just taken, joins the waitlist and gets the slot when the first cancels."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import requests
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.e2e.conftest import System
from tests.e2e.helpers import PASSWORD
from tests.e2e.helpers import api_session as _api
from tests.support.processes import ROOT, VENV_BIN, wait_until

pytestmark = pytest.mark.e2e

ORGANISER = ("chat-organiser@example.org", "organiser password 123")
EXPECTED_REFUSALS = (409,)  # the browser logs each refused request; the "taken" one is caused on purpose


def _register(system: System, email: str, name: str, role: str) -> None:
    body = {"email": email, "password": PASSWORD, "display_name": name, "organisation": "North Health Trust",
            "region": "North East", "role": role}  # fmt: skip
    response = requests.post(f"{system.url}/api/v1/auth/register", json=body, timeout=10)
    assert response.status_code == 201, response.text


@pytest.fixture(scope="module")
def project_id(system: System) -> int:
    """An insight day (in London time) and Ada's project on it, known to posters and matching."""
    subprocess.run(
        [str(VENV_BIN / "flask"), "--app", "services.gateway", "create-organiser", ORGANISER[0]]
        + ["--password", ORGANISER[1]],
        cwd=ROOT,
        env=system.env,
        check=True,
        capture_output=True,
    )
    organiser = _api(system, *ORGANISER)
    day = {"title": "Chat Insight Day", "starts_at": "2030-06-03T08:00:00Z", "ends_at": "2030-06-03T17:00:00Z",
           "timezone": "Europe/London"}  # fmt: skip
    created = organiser.post(f"{system.url}/api/v1/events", json=day, timeout=10)
    assert created.status_code == 201, created.text
    day_id = created.json()["id"]
    wait_until(
        lambda: organiser.get(f"{system.url}/api/v1/events/{day_id}/posters", timeout=10).status_code == 200,
        timeout=30,
        what="posters knowing the event",
    )
    _register(system, "ada@example.org", "Ada Lovelace", "author")
    _register(system, "alan@example.org", "Alan Turing", "attendee")
    _register(system, "grace@example.org", "Grace Hopper", "attendee")
    ada = _api(system, "ada@example.org")
    project = ada.post(
        f"{system.url}/api/v1/events/{day_id}/projects",
        json={
            "title": "Linking GP and hospital records",
            "summary": "How we linked them without moving data.",
            "themes": ["data linkage"],
            "learnings": ["One", "Two", "Three"],
        },  # fmt: skip
        timeout=10,
    )
    assert project.status_code == 201, project.text
    new_id = int(project.json()["id"])
    wait_until(  # matching hears of the project over the bus
        lambda: ada.get(f"{system.url}/api/v1/projects/{new_id}/chat-slots", timeout=10).json()["known"],
        timeout=30,
        what="matching knowing the project",
    )
    return new_id


def _context(browser: Browser) -> tuple[BrowserContext, Page, list[str]]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(f"pageerror: {exc}"))
    page.on(
        "console",
        lambda msg: (
            msg.type == "error"
            and not any(f"status of {code}" in msg.text for code in EXPECTED_REFUSALS)
            and problems.append(f"console: {msg.text}")
        ),
    )
    page.on("dialog", lambda dialog: (problems.append(f"dialog: {dialog.message}"), dialog.dismiss()))
    return context, page, problems


def _sign_in(page: Page, url: str, email: str) -> None:
    page.goto(f"{url}/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def _shot(page: Page, folder: Path, name: str) -> None:
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def test_author_opens_slots_attendee_books_and_another_is_told_taken(
    system: System, browser: Browser, project_id: int, tmp_path: Path
) -> None:
    project_url = f"{system.url}/projects/{project_id}"
    contexts = []
    try:
        # --- Ada opens two slots on her project page, in London time (10:00 BST is 09:00 UTC)
        context, ada, ada_problems = _context(browser)
        contexts.append(context)
        _sign_in(ada, system.url, "ada@example.org")
        ada.goto(project_url)
        section = ada.locator("#chat-slots")
        expect(section.get_by_text("Times in Europe/London.")).to_be_visible()
        expect(section.get_by_text("No chat slots yet: open one below.")).to_be_visible()
        form = section.locator("#chat-slot-form")
        expect(form.get_by_label("Date")).to_have_value("2030-06-03")
        form.get_by_label("Start time").fill("10:00")
        form.get_by_label("Length").select_option("15")
        form.get_by_role("button", name="Open slot").click()
        expect(section.locator(".chat-slots-message")).to_have_text("Slot opened: Mon 3 Jun, 10:00–10:15.")
        form.get_by_label("Start time").fill("10:10")  # overlaps the first: the API says so, next to the field
        form.get_by_role("button", name="Open slot").click()
        expect(form.locator("#chat-slot-error")).to_have_text(
            "You already have a chat slot or a booked chat at that time."
        )
        expect(form.get_by_label("Start time")).to_have_attribute("aria-invalid", "true")
        form.get_by_label("Start time").fill("10:30")
        form.get_by_label("Length").select_option("30")
        form.get_by_role("button", name="Open slot").click()
        slots = section.locator(".chat-slot")
        expect(slots).to_have_count(2)
        expect(slots.locator(".chat-slot-time")).to_have_text(["Mon 3 Jun, 10:00–10:15", "Mon 3 Jun, 10:30–11:00"])
        expect(slots.locator(".chat-slot-state")).to_have_text(["Free", "Free"])
        _shot(ada, tmp_path, "author-project")
        listed = _api(system, "ada@example.org").get(f"{system.url}/api/v1/projects/{project_id}/chat-slots").json()
        assert [s["starts_at"] for s in listed["items"]] == ["2030-06-03T09:00:00+00:00", "2030-06-03T09:30:00+00:00"]

        # --- Grace opens the page first: both slots free
        context, grace, grace_problems = _context(browser)
        contexts.append(context)
        _sign_in(grace, system.url, "grace@example.org")
        grace.goto(project_url)
        expect(grace.locator("#chat-slots .chat-slot-state")).to_have_text(["Free", "Free"])
        expect(grace.locator("#chat-slot-form")).to_have_count(0)  # attendees do not open slots

        # --- Alan books 10:00 and finds it under My chats
        context, alan, alan_problems = _context(browser)
        contexts.append(context)
        _sign_in(alan, system.url, "alan@example.org")
        alan.goto(project_url)
        alan.get_by_role("button", name="Book Mon 3 Jun, 10:00–10:15").click()
        expect(alan.locator("#chat-slots .chat-slots-message")).to_have_text(
            "Booked: Mon 3 Jun, 10:00–10:15. It is listed under My chats."
        )
        expect(alan.locator("#chat-slots .chat-slot-state").first).to_have_text("Booked by you")
        _shot(alan, tmp_path, "attendee-booked")
        alan.get_by_role("navigation", name="Main").get_by_role("link", name="My chats").click()
        expect(alan).to_have_url(f"{system.url}/my-chats")
        chats = alan.locator("#my-chats .my-chat")
        expect(chats).to_have_count(1)
        expect(chats.first.locator(".my-chat-title")).to_contain_text("Ada Lovelace")
        expect(chats.first.locator(".my-chat-when")).to_have_text("Mon 3 Jun 2030, 10:00–10:15 (Europe/London)")
        expect(chats.first).to_contain_text("Linking GP and hospital records")
        room = chats.first.get_by_role("link", name="Open the chat room")
        expect(room).to_have_attribute("href", re.compile(r"^/chats/[A-Za-z0-9_-]{20,}$"))
        _shot(alan, tmp_path, "attendee-my-chats")

        # --- Grace, on her stale page, tries the same slot: a clear "taken", and she joins the waitlist
        grace.get_by_role("button", name="Book Mon 3 Jun, 10:00–10:15").click()
        message = grace.locator("#chat-slots .chat-slots-message")
        expect(message).to_have_text("This chat slot was just taken.")
        expect(message).to_have_class(re.compile(r"\berror\b"))
        expect(grace.locator("#chat-slots .chat-slot-state").first).to_have_text("Taken")
        _shot(grace, tmp_path, "second-attendee-taken")
        grace.get_by_role("button", name="Join the waitlist for Mon 3 Jun, 10:00–10:15").click()
        expect(grace.locator("#chat-slots .chat-slot-state").first).to_have_text(
            "Taken · you are number 1 on the waitlist"
        )

        # --- Ada sees who booked; Alan cancels on My chats; the slot goes to Grace from the waitlist
        ada.reload()
        expect(ada.locator("#chat-slots .chat-slot-state")).to_have_text(["Booked by Alan Turing", "Free"])
        alan.get_by_role("button", name="Cancel the chat on Mon 3 Jun 2030 at 10:00").click()
        expect(alan.locator("#my-chats-message")).to_have_text("The chat is cancelled.")
        expect(alan.locator("#my-chats .my-chat")).to_have_count(0)
        grace.goto(f"{system.url}/my-chats")
        expect(grace.locator("#my-chats .my-chat")).to_have_count(1)
        expect(grace.locator("#my-chats .my-chat").first).to_contain_text("from the waitlist")
        ada.goto(f"{system.url}/my-chats")
        expect(ada.locator("#my-chats .my-chat-title")).to_contain_text("Grace Hopper")
        expect(ada.locator("#my-chats .pill")).to_have_text("you present")
        _shot(ada, tmp_path, "author-my-chats")

        grace.set_viewport_size({"width": 390, "height": 844})  # a phone: nothing cut off
        grace.goto(project_url)
        expect(grace.locator("#chat-slots .chat-slot-state").first).to_have_text("Booked by you")
        assert grace.evaluate("document.documentElement.scrollWidth") <= 390
        _shot(grace, tmp_path, "attendee-phone")
        for problems in (ada_problems, grace_problems, alan_problems):
            assert not problems, problems
    finally:
        for context in contexts:
            context.close()
