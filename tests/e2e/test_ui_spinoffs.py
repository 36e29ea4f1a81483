"""Suggested spin-off workshops in a real Chromium against the whole system: authors publish three projects about
sepsis alerts and two unrelated ones (posters -> ProjectPublished with their text -> matching); the organiser opens
the suggestions from the Day set-up page, sees the three together on the theme they share, is told a capacity of 0
is refused (next to the field), then creates the breakout with one click; the theme joins the day's thesaurus."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import requests
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.e2e.conftest import System
from tests.e2e.helpers import PASSWORD
from tests.e2e.helpers import api_session as _api
from tests.e2e.helpers import sign_in as _sign_in
from tests.support.processes import ROOT, VENV_BIN, wait_until

pytestmark = pytest.mark.e2e

ORGANISER = ("spinoff-organiser@example.org", "organiser password 123")
AUTHOR = "spinoff-author@example.org"
ATTENDEE = "spinoff-attendee@example.org"
PROJECTS = [
    {
        "title": "Early warning scores for sepsis in emergency departments",
        "summary": "We built an early warning score that flags sepsis risk from vital signs recorded at triage in "
        "three emergency departments.",
        "learnings": ["Vital signs at triage are noisy", "Clinicians trust simple scores", "Validate on each site"],
        "themes": ["sepsis"],
    },
    {
        "title": "Predicting sepsis deterioration on hospital wards",
        "summary": "A model using routine vital signs and lab results to predict sepsis deterioration hours before "
        "clinical recognition.",
        "learnings": ["Lab results arrive late", "Alert fatigue is real", "Nurses must own the alert"],
        "themes": ["sepsis", "machine learning"],
    },
    {
        "title": "Sepsis alerts in paediatric emergency care",
        "summary": "Adapting an early warning score for sepsis in children attending emergency departments, using "
        "vital signs.",
        "learnings": ["Children's vital signs differ", "Parents notice first", "Small numbers need pooling"],
        "themes": ["sepsis"],
    },
    {
        "title": "Mental health app engagement among teenagers",
        "summary": "A study of how teenagers use a mental health app and what keeps them engaged.",
        "learnings": ["Co-design with young people", "Notifications backfire", "Schools are key partners"],
        "themes": ["mental health"],
    },
    {
        "title": "Waiting lists dashboard for elective surgery",
        "summary": "A dashboard that shows waiting lists for elective surgery by specialty and region.",
        "learnings": ["Definitions differ by trust", "Users want exports", "Update weekly"],
        "themes": ["operations"],
    },
]


def _register(system: System, email: str, name: str, role: str) -> None:
    body = {"email": email, "password": PASSWORD, "display_name": name, "organisation": "South Health Trust",
            "region": "South West", "role": role}  # fmt: skip
    response = requests.post(f"{system.url}/api/v1/auth/register", json=body, timeout=10)
    assert response.status_code == 201, response.text


@pytest.fixture(scope="module")
def day(system: System) -> dict[str, Any]:
    """An insight day (Paris time) with a breakout slot, no themes yet, and the five projects known to matching."""
    subprocess.run(
        [str(VENV_BIN / "flask"), "--app", "services.gateway", "create-organiser", ORGANISER[0]]
        + ["--password", ORGANISER[1]],
        cwd=ROOT,
        env=system.env,
        check=True,
        capture_output=True,
    )
    organiser = _api(system, *ORGANISER)
    body = {"title": "Spin-off Insight Day", "starts_at": "2026-12-08T08:00:00Z", "ends_at": "2026-12-08T16:00:00Z",
            "timezone": "Europe/Paris"}  # fmt: skip
    created = organiser.post(f"{system.url}/api/v1/events", json=body, timeout=10)
    assert created.status_code == 201, created.text
    day_id = int(created.json()["id"])
    slot = organiser.post(
        f"{system.url}/api/v1/events/{day_id}/slots",
        json={"starts_at": "2026-12-08T13:00:00Z", "ends_at": "2026-12-08T14:00:00Z", "kind": "breakout"},
        timeout=10,
    )
    assert slot.status_code == 201, slot.text
    wait_until(
        lambda: organiser.get(f"{system.url}/api/v1/events/{day_id}/posters", timeout=10).status_code == 200,
        timeout=30,
        what="posters knowing the event",
    )
    _register(system, AUTHOR, "Mary Seacole", "author")
    _register(system, ATTENDEE, "Florence Nightingale", "attendee")
    author = _api(system, AUTHOR)
    ids = []
    for project in PROJECTS:
        response = author.post(f"{system.url}/api/v1/events/{day_id}/projects", json=project, timeout=10)
        assert response.status_code == 201, response.text
        ids.append(int(response.json()["id"]))

    def suggested() -> bool:
        found = organiser.get(f"{system.url}/api/v1/events/{day_id}/spinoff-suggestions", timeout=10).json()
        return found["projects_considered"] == len(PROJECTS)

    wait_until(suggested, timeout=30, interval=0.5, what="matching knowing the projects")
    return {"id": day_id, "slot": int(slot.json()["id"]), "projects": ids}


def _context(browser: Browser) -> tuple[BrowserContext, Page, list[str]]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(f"pageerror: {exc}"))
    page.on(
        "console",
        lambda msg: (
            msg.type == "error"
            and not any(f"status of {code}" in msg.text for code in (400,))  # the refused capacity, on purpose
            and problems.append(f"console: {msg.text}")
        ),
    )
    page.on("dialog", lambda dialog: (problems.append(f"dialog: {dialog.message}"), dialog.dismiss()))
    return context, page, problems


def test_organiser_turns_a_suggestion_into_a_breakout(
    system: System, browser: Browser, day: dict[str, Any], tmp_path: Path
) -> None:
    day_id, sepsis_ids = day["id"], day["projects"][:3]
    organiser = _api(system, *ORGANISER)
    context, page, problems = _context(browser)
    try:
        _sign_in(page, system.url, ORGANISER[0], ORGANISER[1])
        page.goto(f"{system.url}/events/{day_id}/setup")
        page.get_by_role("link", name="Suggested spin-off workshops").first.click()
        expect(page.get_by_role("heading", name="Suggested spin-off workshops", level=1)).to_be_visible()

        suggestion = page.get_by_role("article", name="sepsis")
        expect(suggestion).to_have_count(1)
        expect(suggestion).to_contain_text("new theme")
        links = suggestion.get_by_role("list", name="Projects").get_by_role("link")
        expect(links).to_have_count(3)
        for link, project_id, project in zip(links.all(), sepsis_ids, PROJECTS[:3], strict=True):
            expect(link).to_have_text(project["title"])
            expect(link).to_have_attribute("href", f"/projects/{project_id}")
        for unrelated in PROJECTS[3:]:
            expect(page.get_by_role("link", name=unrelated["title"])).to_have_count(0)

        # Prefilled: the day's one breakout slot (Paris time), capacity 12, the proposed title.
        expect(suggestion.get_by_label("Slot")).to_have_value(str(day["slot"]))
        expect(suggestion.get_by_label("Slot").locator("option:checked")).to_have_text("14:00–15:00")
        expect(suggestion.get_by_label("Capacity")).to_have_value("12")
        expect(suggestion.get_by_label("Breakout title")).to_have_value("Spin-off workshop: sepsis")
        page.screenshot(path=str(tmp_path / "spinoffs.png"), full_page=True)

        # A capacity of 0: the API refuses it and the page says so next to the field; nothing is created.
        suggestion.get_by_label("Capacity").fill("0")
        suggestion.get_by_role("button", name="Create breakout").click()
        suggestion = page.get_by_role("article", name="sepsis")
        capacity = suggestion.get_by_label("Capacity")
        expect(capacity).to_have_attribute("aria-invalid", "true")
        expect(suggestion.locator(".field-error .error")).to_contain_text("Must be at least 1")
        expect(suggestion.get_by_role("alert")).to_contain_text("the breakout was not created")
        expect(suggestion.get_by_label("Breakout title")).to_have_value("Spin-off workshop: sepsis")
        page.screenshot(path=str(tmp_path / "spinoffs-error.png"), full_page=True)
        assert organiser.get(f"{system.url}/api/v1/events/{day_id}/breakouts", timeout=10).json()["items"] == []

        # One click with a fitting capacity.
        capacity.fill("20")
        suggestion.get_by_role("button", name="Create breakout").click()
        expect(page.get_by_role("status").filter(has_text="created")).to_contain_text(
            "Breakout “Spin-off workshop: sepsis” created on the theme “sepsis” (added to the day's themes)."
        )
        suggestion = page.get_by_role("article", name="sepsis")
        expect(suggestion).to_contain_text("Already a breakout on this theme: “Spin-off workshop: sepsis”")
        expect(suggestion).to_contain_text("one of the day's themes")
        page.screenshot(path=str(tmp_path / "spinoffs-created.png"), full_page=True)
        page.set_viewport_size({"width": 390, "height": 844})
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        page.screenshot(path=str(tmp_path / "spinoffs-phone.png"), full_page=True)

        # The set-up page shows the breakout and the new theme.
        page.set_viewport_size({"width": 1280, "height": 900})
        page.get_by_role("link", name="Back to Day set-up").click()
        breakouts = page.get_by_role("table", name="Themed breakouts (1)")
        expect(breakouts).to_contain_text("Spin-off workshop: sepsis")
        expect(page.get_by_label("Themes, one per line")).to_have_value("sepsis")
        assert not problems, problems
    finally:
        context.close()

    (breakout,) = organiser.get(f"{system.url}/api/v1/events/{day_id}/breakouts", timeout=10).json()["items"]
    assert (breakout["slot_id"], breakout["theme"], breakout["capacity"]) == (day["slot"], "sepsis", 20)
    thesaurus = organiser.get(f"{system.url}/api/v1/events/{day_id}/thesaurus", timeout=10).json()
    assert [t["name"] for t in thesaurus["themes"]] == ["sepsis"] and thesaurus["revision"] == 1


def test_attendees_cannot_see_the_suggestions(system: System, browser: Browser, day: dict[str, Any]) -> None:
    context, page, _ = _context(browser)
    try:
        _sign_in(page, system.url, ATTENDEE)
        response = page.goto(f"{system.url}/events/{day['id']}/spinoffs")
        assert response is not None and response.status == 403
        expect(page.get_by_role("heading", name="Organisers only")).to_be_visible()
    finally:
        context.close()
    refused = _api(system, ATTENDEE).get(f"{system.url}/api/v1/events/{day['id']}/spinoff-suggestions", timeout=10)
    assert refused.status_code == 403
