"""Day set-up and registration pages in a real Chromium against the whole system: an organiser sets up the
thesaurus, a slot and a breakout through the pages (the forms say what is wrong, next to the field), imports a CSV
with a bad row (the page lists it); an attendee registers with ranked themes; the organiser sees and exports it."""

from __future__ import annotations

import csv
import io
import subprocess
from pathlib import Path

import pytest
import requests
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.e2e.conftest import System
from tests.e2e.helpers import PASSWORD
from tests.e2e.helpers import api_session as _api
from tests.e2e.helpers import sign_in as _sign_in
from tests.support.processes import ROOT, VENV_BIN, wait_until

pytestmark = pytest.mark.e2e

ORGANISER = ("setup-organiser@example.org", "organiser password 123")
ATTENDEE = ("grace@example.org", "Grace Hopper")
EXPECTED_REFUSALS = (400, 409)  # the forms' refused requests, caused on purpose


@pytest.fixture(scope="module")
def event_id(system: System) -> int:
    subprocess.run(
        [str(VENV_BIN / "flask"), "--app", "services.gateway", "create-organiser", ORGANISER[0]]
        + ["--password", ORGANISER[1]],
        cwd=ROOT,
        env=system.env,
        check=True,
        capture_output=True,
    )
    created = _api(system, *ORGANISER).post(
        f"{system.url}/api/v1/events",
        json={
            "title": "Winter Data Insight Day",
            "starts_at": "2026-12-03T08:00:00Z",  # 09:00-17:00 in Paris: the pages show and take Paris time
            "ends_at": "2026-12-03T16:00:00Z",
            "timezone": "Europe/Paris",
        },
        timeout=10,
    )
    assert created.status_code == 201, created.text
    return int(created.json()["id"])


@pytest.fixture(scope="module")
def attendee(system: System) -> str:
    registered = requests.post(
        f"{system.url}/api/v1/auth/register",
        json={
            "email": ATTENDEE[0],
            "password": PASSWORD,
            "display_name": ATTENDEE[1],
            "organisation": "Navy Health Analytics",
            "region": "South West",
            "role": "attendee",
        },
        timeout=10,
    )
    assert registered.status_code == 201, registered.text
    return ATTENDEE[0]


def _context(browser: Browser) -> tuple[BrowserContext, Page, list[str]]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(f"pageerror: {exc}\n{exc.stack}"))
    page.on(
        "console",
        lambda msg: (
            msg.type == "error"
            and not any(f"status of {code}" in msg.text for code in EXPECTED_REFUSALS)
            and problems.append(f"console: {msg.text}")
        ),
    )

    def on_dialog(dialog) -> None:  # type: ignore[no-untyped-def]
        if not dialog.message.startswith("Delete"):
            problems.append(f"unexpected dialog: {dialog.message}")  # e.g. an injected alert()
        dialog.accept()

    page.on("dialog", on_dialog)
    return context, page, problems


def test_organiser_sets_up_the_day_and_an_attendee_registers(
    system: System, browser: Browser, event_id: int, attendee: str, tmp_path: Path
) -> None:
    organiser_api = _api(system, *ORGANISER)

    context, page, problems = _context(browser)
    try:
        # --- the organiser opens the day and its set-up page
        _sign_in(page, system.url, ORGANISER[0], ORGANISER[1])
        page.get_by_role("link", name="Winter Data Insight Day").click()
        page.get_by_role("link", name="Day set-up").click()
        expect(page.get_by_role("heading", name="Day set-up", level=1)).to_be_visible()

        # Thesaurus: a line that repeats a theme is refused with its line number; then saved, synonyms kept.
        themes = page.get_by_label("Themes, one per line")
        themes.fill("machine learning = ML, AI\ndata linkage\nMachine Learning")
        page.get_by_role("button", name="Save themes").click()
        expect(themes).to_have_attribute("aria-invalid", "true")
        expect(page.locator("#thesaurus-themes-error")).to_contain_text("Line 3:")
        themes.fill("machine learning = ML, AI\ndata  linkage\nmental health")
        page.get_by_role("button", name="Save themes").click()
        expect(page.locator("#page-status")).to_have_text("Themes saved.")
        expect(themes).to_have_value("machine learning = ML, AI\ndata linkage\nmental health")

        # Slot: ending before it starts is refused next to "Ends"; 10:00-11:00 London time is saved.
        slot_form = page.locator("#slot-form")
        slot_form.get_by_label("Starts").fill("2026-12-03T10:00")
        slot_form.get_by_label("Ends").fill("2026-12-03T09:30")
        slot_form.get_by_role("button", name="Add slot").click()
        expect(slot_form.get_by_label("Ends")).to_have_attribute("aria-invalid", "true")
        expect(slot_form.locator("#slot-ends-error")).to_have_text("Must be after the start time")
        slot_form.get_by_label("Ends").fill("2026-12-03T11:00")
        slot_form.get_by_role("button", name="Add slot").click()
        expect(page.locator("#page-status")).to_have_text("Slot saved.")
        slots_table = page.get_by_role("table", name="The day's slots (1), in Europe/Paris time")
        expect(slots_table.get_by_role("row", name="10:00–11:00 Breakouts 0")).to_be_visible()

        slots = organiser_api.get(f"{system.url}/api/v1/events/{event_id}/slots", timeout=10).json()["items"]
        assert [(s["starts_at"], s["ends_at"]) for s in slots] == [
            ("2026-12-03T09:00:00+00:00", "2026-12-03T10:00:00+00:00")
        ]

        # Registration deadline, in the day's time zone too.
        page.get_by_label("Registration closes").fill("2026-12-02T18:00")
        page.get_by_role("button", name="Save deadline").click()
        expect(page.locator("#page-status")).to_have_text("Registration deadline saved.")
        setup = organiser_api.get(f"{system.url}/api/v1/events/{event_id}/setup", timeout=10).json()
        assert setup["registration_deadline"] == "2026-12-02T17:00:00+00:00" and setup["registration_open"]

        # Breakout: capacity 0 is refused next to "Capacity"; then saved with a theme from the thesaurus.
        breakout_form = page.locator("#breakout-form")
        breakout_form.get_by_label("Theme").select_option("data linkage")
        breakout_form.get_by_label("Title").fill("Linking GP and hospital records")
        breakout_form.get_by_label("Capacity").fill("0")
        breakout_form.get_by_role("button", name="Add breakout").click()
        expect(breakout_form.get_by_label("Capacity")).to_have_attribute("aria-invalid", "true")
        expect(breakout_form.locator("#breakout-capacity-error")).to_contain_text("Must be at least 1")
        page.screenshot(path=str(tmp_path / "setup-error.png"), full_page=True)
        breakout_form.get_by_label("Capacity").fill("12")
        breakout_form.get_by_label("Meeting link").fill("https://meet.example.org/linking")
        breakout_form.get_by_role("button", name="Add breakout").click()
        expect(page.locator("#page-status")).to_have_text("Breakout saved.")
        breakouts = page.get_by_role("table", name="Themed breakouts (1)")
        expect(breakouts).to_contain_text("Linking GP and hospital records")
        expect(breakouts).to_contain_text("data linkage")

        # Edit it from its row with the keyboard: the form below takes its values.
        page.get_by_role("button", name="Edit the breakout Linking GP and hospital records").focus()
        page.keyboard.press("Enter")
        expect(breakout_form.get_by_label("Title")).to_be_focused()
        expect(breakout_form.get_by_label("Capacity")).to_have_value("12")
        breakout_form.get_by_label("Capacity").fill("15")
        breakout_form.get_by_role("button", name="Save breakout").click()
        expect(page.locator("#page-status")).to_have_text("Breakout saved.")
        expect(breakouts.get_by_role("cell", name="15", exact=True)).to_be_visible()

        # The slot has a breakout: deleting it is refused and the page says why.
        page.get_by_role("button", name="Delete the 10:00–11:00 slot").click()
        expect(slot_form.locator(".form-alert")).to_contain_text("This slot has 1 breakout: delete or move them first")
        expect(slots_table).to_be_visible()

        # A CSV with a bad row imports nothing and lists the row and column.
        page.locator("#import-file").set_input_files(
            files=[
                {
                    "name": "people.csv",
                    "mimeType": "text/csv",
                    "buffer": b"email,themes\ngrace@example.org,ML\nnobody@example.org,astrology\n",
                }
            ]
        )
        page.get_by_role("button", name="Import", exact=True).click()
        errors = page.get_by_role("table", name="Rows to fix")
        expect(errors.get_by_role("row", name="3 email")).to_be_visible()
        expect(errors.get_by_role("row", name="3 themes")).to_contain_text("astrology")
        expect(page.locator("#import-message")).to_contain_text("Nothing was imported")
        page.screenshot(path=str(tmp_path / "setup-organiser.png"), full_page=True)
        assert not problems, problems
    finally:
        context.close()

    # --- the attendee registers from the day's page
    context, page, problems = _context(browser)
    try:
        _sign_in(page, system.url, ATTENDEE[0])
        page.goto(f"{system.url}/events/{event_id}")
        page.screenshot(path=str(tmp_path / "event.png"))
        page.get_by_role("link", name="Register for this day").click()
        expect(page.get_by_role("heading", name="Register for this day")).to_be_visible()
        page.get_by_label("1st choice").select_option("data linkage")
        page.get_by_label("2nd choice").select_option("machine learning")
        page.get_by_label("3rd choice").select_option("data linkage")  # twice: the form says so
        page.get_by_label("Tools and systems you use").fill("R, SQL, EMIS")
        page.get_by_label("Interests").fill("record linkage at scale\nconsent models")
        page.get_by_role("button", name="Register", exact=True).click()
        expect(page.locator("#themes-group-error")).to_contain_text("rank each theme once")
        page.get_by_label("3rd choice").select_option("")
        page.get_by_role("button", name="Register", exact=True).click()
        expect(page.locator("#page-status")).to_have_text("Your registration is saved.")
        expect(page.locator("#registration-state")).to_contain_text("You are registered.")
        expect(page.get_by_label("2nd choice")).to_have_value("machine learning")
        page.screenshot(path=str(tmp_path / "registration.png"), full_page=True)
        page.set_viewport_size({"width": 390, "height": 844})
        page.screenshot(path=str(tmp_path / "registration-phone.png"), full_page=True)
        assert not problems, problems
    finally:
        context.close()

    mine = _api(system, ATTENDEE[0]).get(f"{system.url}/api/v1/events/{event_id}/registration", timeout=10).json()
    assert (mine["themes"], mine["tools"]) == (["data linkage", "machine learning"], ["R", "SQL", "EMIS"])

    # --- the organiser sees it; the export has it; the person is known to matching from UserRegistered
    exported = organiser_api.get(f"{system.url}/api/v1/events/{event_id}/registrations.csv", timeout=10)
    assert exported.status_code == 200 and exported.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert [(r["email"], r["display_name"], r["themes"]) for r in rows] == [
        (ATTENDEE[0], ATTENDEE[1], "data linkage; machine learning")
    ]
    wait_until(  # the import finds people by e-mail in matching's copy, kept from the gateway's UserRegistered
        lambda: (
            organiser_api.post(
                f"{system.url}/api/v1/events/{event_id}/registrations/import",
                files={"file": ("people.csv", b"email,themes\ngrace@example.org,ML;mental health\n", "text/csv")},
                timeout=10,
            ).status_code
            == 200
        ),
        timeout=30,
        interval=0.5,
        what="import by e-mail",
    )
    context, page, problems = _context(browser)
    try:
        _sign_in(page, system.url, ORGANISER[0], ORGANISER[1])
        page.goto(f"{system.url}/events/{event_id}/setup")
        who = page.get_by_role("table", name="Who registered")
        expect(who.get_by_role("row", name="Grace Hopper imported")).to_contain_text("machine learning")
        page.screenshot(path=str(tmp_path / "setup-registrations.png"), full_page=True)
        page.set_viewport_size({"width": 390, "height": 844})
        assert page.evaluate("document.documentElement.scrollWidth") <= 390  # tables scroll, the page does not
        page.screenshot(path=str(tmp_path / "setup-phone.png"), full_page=True)
        assert not problems, problems
    finally:
        context.close()


def test_attendees_cannot_open_the_set_up_page(system: System, browser: Browser, event_id: int, attendee: str) -> None:
    context, page, _ = _context(browser)
    try:
        _sign_in(page, system.url, ATTENDEE[0])
        response = page.goto(f"{system.url}/events/{event_id}/setup")
        assert response is not None and response.status == 403
        expect(page.get_by_role("heading", name="Organisers only")).to_be_visible()
    finally:
        context.close()
