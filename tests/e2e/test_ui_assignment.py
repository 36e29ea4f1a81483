"""The assignment in a real Chromium against the whole system (matching's Celery worker included): an organiser
starts a run on the Assignment page and watches its progress bar finish, sees its quality beside the bound, and
publishes it; an attendee then sees their breakouts with the reason for each on My schedule."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta

import pytest
import requests
from playwright.sync_api import Browser, expect

from tests.e2e.conftest import System
from tests.e2e.helpers import PASSWORD
from tests.e2e.helpers import api_session as _api
from tests.e2e.helpers import sign_in as _sign_in
from tests.e2e.test_ui_setup import _context
from tests.support.processes import ROOT, VENV_BIN

pytestmark = pytest.mark.e2e

ORGANISER = ("assign-organiser@example.org", "organiser password 123")
THEMES = ["data linkage", "consent", "federated analytics"]
ORGS = ["North Trust", "South Trust", "East Uni"]


def _register(system: System, email: str, organisation: str) -> None:
    answer = requests.post(
        f"{system.url}/api/v1/auth/register",
        json={
            "email": email,
            "password": PASSWORD,
            "display_name": email.split("@")[0].title(),
            "organisation": organisation,
            "region": "North",
            "role": "attendee",
        },
        timeout=30,
    )
    assert answer.status_code == 201, answer.text


@pytest.fixture(scope="module")
def day(system: System) -> int:
    subprocess.run(
        [
            str(VENV_BIN / "flask"),
            "--app",
            "services.gateway",
            "create-organiser",
            ORGANISER[0],
            "--password",
            ORGANISER[1],
        ],
        cwd=ROOT,
        env=system.env,
        check=True,
        capture_output=True,
    )
    organiser = _api(system, *ORGANISER)
    start = (datetime.now(UTC) + timedelta(days=20)).replace(hour=8, minute=0, second=0, microsecond=0)
    created = organiser.post(
        f"{system.url}/api/v1/events",
        json={
            "title": "Assignment Day",
            "starts_at": start.isoformat(),
            "ends_at": (start + timedelta(hours=8)).isoformat(),
            "timezone": "Europe/London",
        },
        timeout=30,
    )
    assert created.status_code == 201, created.text
    event_id = created.json()["id"]
    base = f"{system.url}/api/v1/events/{event_id}"
    assert organiser.put(f"{base}/thesaurus", json={"themes": THEMES}, timeout=30).status_code == 200
    for hour in (1, 2):
        slot = organiser.post(
            f"{base}/slots",
            json={
                "starts_at": (start + timedelta(hours=hour)).isoformat(),
                "ends_at": (start + timedelta(hours=hour, minutes=45)).isoformat(),
                "kind": "breakout",
            },
            timeout=30,
        )
        assert slot.status_code == 201, slot.text
        for theme in THEMES:
            made = organiser.post(
                f"{base}/breakouts",
                json={"slot_id": slot.json()["id"], "title": f"{theme.title()} {hour}", "theme": theme, "capacity": 4},
                timeout=30,
            )
            assert made.status_code == 201, made.text
    for i in range(6):
        email = f"assignee{i}@example.org"
        _register(system, email, ORGS[i % 3])
        ranking = [THEMES[(i + k) % 3] for k in range(3)]
        registered = _api(system, email).put(
            f"{base}/registration", json={"themes": ranking, "tools": [], "interests": []}, timeout=30
        )
        assert registered.status_code in (200, 201), registered.text
    return int(event_id)


def test_organiser_runs_watches_and_publishes_then_attendee_sees_why(
    system: System, browser: Browser, day: int
) -> None:
    context, page, problems = _context(browser)
    try:
        _sign_in(page, system.url, *ORGANISER)
        page.goto(f"{system.url}/events/{day}")
        page.get_by_role("link", name="Assignment").click()
        expect(page.get_by_role("heading", name="Breakout assignment")).to_be_visible()
        page.get_by_label("Most from one organisation in a breakout (%)").fill("50")
        page.get_by_role("button", name="Run the assignment").click()
        expect(page.locator("#live-progress")).to_be_visible()
        # The page follows the run (pushes and polling) and reloads once it is done.
        expect(page.get_by_text("finished.")).to_be_visible(timeout=90_000)
        row = page.locator("table.runs tbody tr").first
        expect(row.locator(".run-status")).to_have_text("succeeded")
        expect(row).to_contain_text("% of the bound")
        page.screenshot(path=str(ROOT / "var" / "e2e" / "assignment.png"), full_page=True)
        row.get_by_role("button", name="Publish").click()
        expect(page.get_by_text("published: 6 people have their schedule")).to_be_visible()
    finally:
        context.close()

    context, page, more = _context(browser)
    try:
        _sign_in(page, system.url, "assignee0@example.org")
        page.goto(f"{system.url}/events/{day}/my-schedule")
        items = page.locator("ol.schedule > li")
        expect(items).to_have_count(2)
        expect(items.first).to_contain_text("Why: your")
        themes = {items.nth(i).locator(".theme").inner_text() for i in range(2)}
        assert len(themes) == 2  # never the same theme twice
        page.screenshot(path=str(ROOT / "var" / "e2e" / "my-schedule.png"), full_page=True)
    finally:
        context.close()
    assert problems == [] and more == []
