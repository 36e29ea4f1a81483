"""Project Q&A and the day's agenda in a real Chromium against the whole system.

Q&A: an attendee asks anonymously on a project page; the question appears on the author's open page without a
reload, without the asker's name (also for another attendee), with it for an organiser; another attendee upvotes,
the author answers, and the answer reaches the asker's page without a reload. Markup in a question stays text.
Agenda: a day created around the current time, in New York time: the poster session on now, the coffee next.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import requests
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.e2e.conftest import System
from tests.e2e.helpers import PASSWORD, api_session, sign_in
from tests.support.processes import ROOT, VENV_BIN, wait_until

pytestmark = pytest.mark.e2e

ORGANISER = ("qa-organiser@example.org", "organiser password 123")
ZONE = "America/New_York"
LIVE_TIMEOUT_MS = 20_000  # the Q&A panel polls every 3 s; a loaded machine may take a few turns
QUESTION = "How did you get consent? <script>window.pwned = 1</script>"


@dataclass(frozen=True)
class Day:
    event_id: int
    project_id: int
    posters_slot: tuple[datetime, datetime]
    coffee_slot: tuple[datetime, datetime]


def _register(system: System, email: str, name: str, role: str) -> None:
    body = {"email": email, "password": PASSWORD, "display_name": name, "organisation": "South Health Trust",
            "region": "South", "role": role}  # fmt: skip
    response = requests.post(f"{system.url}/api/v1/auth/register", json=body, timeout=10)
    assert response.status_code == 201, response.text


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


@pytest.fixture(scope="module")
def day(system: System) -> Day:
    """A day that is on now: a poster session around the current time and a coffee slot after it."""
    subprocess.run(
        [str(VENV_BIN / "flask"), "--app", "services.gateway", "create-organiser", ORGANISER[0]]
        + ["--password", ORGANISER[1]],
        cwd=ROOT,
        env=system.env,
        check=True,
        capture_output=True,
    )
    organiser = api_session(system, *ORGANISER)
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    base = now - timedelta(minutes=now.minute % 5)
    posters_slot = (base - timedelta(minutes=30), base + timedelta(minutes=35))
    coffee_slot = (base + timedelta(minutes=60), base + timedelta(minutes=90))
    body = {"title": "Live Insight Day", "starts_at": _iso(base - timedelta(hours=2)),
            "ends_at": _iso(base + timedelta(hours=6)), "timezone": ZONE}  # fmt: skip
    created = organiser.post(f"{system.url}/api/v1/events", json=body, timeout=10)
    assert created.status_code == 201, created.text
    event_id = int(created.json()["id"])
    for (starts, ends), kind in ((posters_slot, "posters"), (coffee_slot, "coffee")):
        slot = organiser.post(
            f"{system.url}/api/v1/events/{event_id}/slots",
            json={"starts_at": _iso(starts), "ends_at": _iso(ends), "kind": kind},
            timeout=10,
        )
        assert slot.status_code == 201, slot.text
    wait_until(
        lambda: organiser.get(f"{system.url}/api/v1/events/{event_id}/posters", timeout=10).status_code == 200,
        timeout=30,
        what="posters knowing the event",
    )
    _register(system, "mary@example.org", "Mary Seacole", "author")
    _register(system, "john@example.org", "John Snow", "attendee")
    _register(system, "florence@example.org", "Florence Nightingale", "attendee")
    project = api_session(system, "mary@example.org").post(
        f"{system.url}/api/v1/events/{event_id}/projects",
        json={"title": "Cholera maps, then and now", "summary": "Mapping cases to find the pump.",
              "themes": ["epidemiology"], "learnings": ["Maps persuade", "Data needs context", "Ask locals"],
              "questions": ["Who else maps outbreaks?"]},  # fmt: skip
        timeout=10,
    )
    assert project.status_code == 201, project.text
    return Day(event_id, int(project.json()["id"]), posters_slot, coffee_slot)


def _fits_a_phone(page: Page, name: str) -> None:
    """No sideways scrolling on a 390 px wide phone (long questions and paths wrap)."""
    page.set_viewport_size({"width": 390, "height": 844})
    width = page.evaluate("document.documentElement.scrollWidth")
    page.set_viewport_size({"width": 1280, "height": 900})
    assert width <= 390, f"{name}: the page is {width}px wide on a 390px phone"


@pytest.fixture
def open_page(browser: Browser, system: System) -> Iterator:  # type: ignore[type-arg]
    contexts: list[BrowserContext] = []
    problems: list[str] = []

    def opened(email: str, password: str = PASSWORD) -> Page:
        context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda exc: problems.append(f"{email} pageerror: {exc}"))
        page.on("dialog", lambda dialog: (problems.append(f"{email} dialog: {dialog.message}"), dialog.dismiss()))
        sign_in(page, system.url, email, password)
        return page

    yield opened
    for context in contexts:
        context.close()
    assert not problems, problems


def test_questions_arrive_live_anonymous_upvoted_and_answered(system: System, day: Day, open_page) -> None:  # type: ignore[no-untyped-def]
    project_url = f"{system.url}/projects/{day.project_id}"
    mary = open_page("mary@example.org")
    mary.goto(project_url)
    expect(mary.locator("#qa-empty")).to_have_text("No questions yet.")
    expect(mary.locator("#qa-ask")).to_be_hidden()  # authors answer, they do not ask on their own project
    expect(mary.get_by_role("heading", name="Three learnings")).to_be_visible()

    john = open_page("john@example.org")
    john.goto(project_url)
    john.get_by_label("Ask the authors a question").fill("")
    john.get_by_role("button", name="Ask", exact=True).click()
    expect(john.locator("#qa-error")).to_have_text("Text must not be empty")
    john.get_by_label("Ask the authors a question").fill(QUESTION)
    john.get_by_label("Ask anonymously").check()
    john.get_by_role("button", name="Ask", exact=True).click()
    mine = john.locator(".qa-item")
    expect(mine).to_have_count(1)
    expect(mine.locator(".qa-meta")).to_contain_text("John Snow (anonymous to others)")

    # Mary's page, open since before the question, shows it without a reload and without John's name.
    question = mary.locator(".qa-item")
    expect(question).to_have_count(1, timeout=LIVE_TIMEOUT_MS)
    expect(question.locator(".qa-text")).to_have_text(QUESTION)  # the markup is shown as text
    expect(question.locator(".qa-meta")).to_contain_text("Anonymous")
    expect(question.locator(".qa-meta")).not_to_contain_text("John")
    assert mary.evaluate("() => window.pwned") is None

    florence = open_page("florence@example.org")
    florence.goto(project_url)
    other = florence.locator(".qa-item")
    expect(other.locator(".qa-meta")).to_contain_text("Anonymous")
    expect(other.locator(".qa-meta")).not_to_contain_text("John")
    other.get_by_role("button", name="Upvote (0)").click()
    expect(other.get_by_role("button", name="Upvote (1)")).to_have_attribute("aria-pressed", "true")
    expect(question.get_by_role("button", name="Upvote (1)")).to_be_visible(timeout=LIVE_TIMEOUT_MS)

    organiser = open_page(*ORGANISER)
    organiser.goto(project_url)
    expect(organiser.locator(".qa-item .qa-meta")).to_contain_text("John Snow (anonymous to others)")

    question.get_by_label("Your answer").fill("Through the parish records <b>and</b> the registrar.")
    question.get_by_role("button", name="Answer", exact=True).click()
    expect(question.locator(".qa-answer")).to_contain_text("Through the parish records <b>and</b> the registrar.")
    # John's page gets the answer without a reload.
    expect(mine.locator(".qa-answer")).to_contain_text("<b>and</b>", timeout=LIVE_TIMEOUT_MS)
    assert john.locator(".qa-answer b").count() == 0
    john.get_by_label("Ask the authors a question").fill("x" * 1000)  # the longest question, one unbroken word
    john.get_by_role("button", name="Ask", exact=True).click()
    expect(mine).to_have_count(2)
    _fits_a_phone(john, "project page with Q&A")
    mine.nth(1).get_by_role("button", name="Delete question").click()
    expect(mine).to_have_count(1)

    # The asker takes the question back: it leaves the author's page too; nobody else had a delete button.
    assert florence.locator(".qa-delete").count() == 0 and mary.locator(".qa-delete").count() == 0
    mine.get_by_role("button", name="Delete question").click()
    expect(john.locator("#qa-empty")).to_be_visible()
    expect(question).to_have_count(0, timeout=LIVE_TIMEOUT_MS)


def test_agenda_shows_local_times_and_what_is_on_now(system: System, day: Day, open_page) -> None:  # type: ignore[no-untyped-def]
    zone = ZoneInfo(ZONE)

    def local(moment: datetime) -> str:
        return moment.astimezone(zone).strftime("%H:%M")

    john = open_page("john@example.org")
    john.goto(system.url)
    john.get_by_role("link", name="Agenda").first.click()
    expect(john).to_have_url(f"{system.url}/events/{day.event_id}/agenda")
    expect(john.locator("#agenda-timezone")).to_have_text(ZONE)
    items = john.locator("#agenda .agenda-item")
    expect(items).to_have_count(2)
    posters_span = f"{local(day.posters_slot[0])}–{local(day.posters_slot[1])}"
    coffee_span = f"{local(day.coffee_slot[0])}–{local(day.coffee_slot[1])}"
    expect(items.locator(".agenda-time")).to_have_text([posters_span, coffee_span])
    expect(items.nth(0)).to_have_class("agenda-item agenda-posters agenda-now")
    expect(john.locator("#now-text")).to_have_text(f"Poster session ({posters_span})")
    expect(john.locator("#next-text")).to_have_text(f"Random coffee at {local(day.coffee_slot[0])}")
    _fits_a_phone(john, "agenda")
    items.nth(1).get_by_role("link", name="Random coffee").click()
    expect(john).to_have_url(f"{system.url}/events/{day.event_id}/coffee")
    expect(john.get_by_role("navigation", name="Main").get_by_role("link", name="Agenda")).to_be_visible()
