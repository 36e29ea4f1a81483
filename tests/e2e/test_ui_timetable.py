"""Timetabling in a real Chromium against the whole system (matching's Celery worker included): an organiser
starts a timetable run and watches its progress bar finish, sees the grid with nobody losing a wanted theme, moves
a breakout into another slot and sees the figures recomputed (who loses what, and why), locks a breakout, and
applies the run: the breakouts then carry the run's slots."""

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

ORGANISER = ("timetable-organiser@example.org", "organiser password 123")
THEMES = ["data linkage", "consent", "machine learning", "public involvement"]


@pytest.fixture(scope="module")
def day(system: System) -> tuple[int, str]:
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
            "title": "Timetable Day",
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
    for hour in (1, 2, 3):
        slot = organiser.post(
            f"{base}/slots",
            json={
                "starts_at": (start + timedelta(hours=hour)).isoformat(),
                "ends_at": (start + timedelta(hours=hour, minutes=45)).isoformat(),
                "kind": "breakout",
                "rooms": 2,
            },
            timeout=30,
        )
        assert slot.status_code == 201, slot.text
    for theme in THEMES:  # no slot yet: the timetable run places them
        made = organiser.post(
            f"{base}/breakouts", json={"title": theme.title(), "theme": theme, "capacity": 10}, timeout=30
        )
        assert made.status_code == 201, made.text
    # Everyone wants consent and machine learning, plus linkage or involvement.
    for i in range(6):
        email = f"timetabled{i}@example.org"
        answer = requests.post(
            f"{system.url}/api/v1/auth/register",
            json={
                "email": email,
                "password": PASSWORD,
                "display_name": f"Timetabled {i}",
                "organisation": f"Org {i % 3}",
                "region": "North",
                "role": "attendee",
            },
            timeout=30,
        )
        assert answer.status_code == 201, answer.text
        ranking = ["consent", THEMES[0] if i % 2 else THEMES[3], "machine learning"]
        registered = _api(system, email).put(
            f"{base}/registration", json={"themes": ranking, "tools": [], "interests": []}, timeout=30
        )
        assert registered.status_code in (200, 201), registered.text
    return int(event_id), base


def test_organiser_runs_moves_a_breakout_locks_and_applies(system: System, browser: Browser, day) -> None:  # type: ignore[no-untyped-def]
    event_id, base = day
    context, page, problems = _context(browser)
    try:
        _sign_in(page, system.url, *ORGANISER)
        page.goto(f"{system.url}/events/{event_id}")
        page.get_by_role("link", name="Timetable").click()
        expect(page.get_by_role("heading", name="Timetable", exact=True)).to_be_visible()
        page.get_by_label("Time limit (seconds)").fill("20")
        page.get_by_role("button", name="Run the timetable").click()
        # The page follows the run (pushes and polling; a run this small may finish before the bar is seen) and
        # reloads once it is done.
        expect(page.get_by_text("finished.")).to_be_visible(timeout=90_000)
        expect(page.locator("table.runs tbody tr").first.locator(".run-status")).to_have_text("succeeded")
        expect(page.locator("#share")).to_have_text("100.0 %")
        rows = page.locator("tr.slot-row")
        expect(rows).to_have_count(3)
        expect(page.locator(".breakout-card")).to_have_count(4)
        expect(page.locator("td.loss .loss-count")).to_have_text(["0", "0", "0"])

        # Drag consent onto machine learning's slot: everybody wants both, so everybody loses one; the slot says why.
        ml_row = rows.filter(has=page.locator(".breakout-card", has_text="Machine Learning"))
        consent = page.locator(".breakout-card", has_text="Consent")
        # The HTML5 drag events with one DataTransfer (Playwright's mouse-driven drag_to did not reach the drop handler
        # in headless Chromium here).
        transfer = page.evaluate_handle("() => new DataTransfer()")
        consent.dispatch_event("dragstart", {"dataTransfer": transfer})
        ml_row.dispatch_event("dragover", {"dataTransfer": transfer})
        ml_row.dispatch_event("drop", {"dataTransfer": transfer})
        assert problems == [], problems
        expect(page.locator("#share")).to_have_text("0.0 %")
        expect(ml_row.locator(".loss-count")).to_have_text("6")
        expect(ml_row.locator(".loss-reasons li").first).to_contain_text("6 people lose")
        expect(page.locator("#edited")).to_be_visible()
        page.screenshot(path=str(ROOT / "var" / "e2e" / "timetable-moved.png"), full_page=True)

        # Back with the "Move to" list (the keyboard way): the figures recover.
        slot_ids = [rows.nth(i).get_attribute("data-slot") for i in range(3)]
        ml_slot = ml_row.get_attribute("data-slot")
        linkage_row = rows.filter(has=page.locator(".breakout-card", has_text="Data Linkage"))
        other = next(s for s in slot_ids if s not in (ml_slot, linkage_row.get_attribute("data-slot")))
        consent.locator("select.move-to").select_option(other)
        expect(page.locator("#share")).to_have_text("100.0 %")

        # Lock machine learning where it is; the page reloads with it locked.
        page.locator(".breakout-card", has_text="Machine Learning").get_by_role("button", name="Lock here").click()
        expect(page.get_by_text('Locked "Machine Learning"')).to_be_visible()
        expect(page.locator(".breakout-card.locked")).to_have_count(1)

        # The run was computed before the lock: applying it is refused with the reason; a new run can be applied.
        page.get_by_role("button", name="Apply run").click()
        expect(page.locator("#page-status")).to_contain_text("locked breakouts changed")
        page.get_by_label("Time limit (seconds)").fill("20")
        page.get_by_role("button", name="Run the timetable").click()
        expect(page.get_by_text("finished.")).to_be_visible(timeout=90_000)
        page.get_by_role("button", name="Apply run").click()
        expect(page.get_by_text("applied:")).to_be_visible()
        expect(page.locator("table.runs .tag", has_text="applied")).to_have_count(1)
        page.screenshot(path=str(ROOT / "var" / "e2e" / "timetable.png"), full_page=True)
    finally:
        context.close()
    organiser = _api(system, *ORGANISER)
    placed = organiser.get(f"{base}/breakouts", timeout=30).json()["items"]
    assert all(b["slot_id"] is not None for b in placed)
    assert problems == []
