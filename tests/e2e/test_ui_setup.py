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

from tests.e2e.a11y import Auditor
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
        expect(slots_table.get_by_role("row", name="10:00–11:00 Breakouts no limit 0")).to_be_visible()

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


TIMETABLED_THEMES = ["data linkage", "consent", "machine learning"]


@pytest.fixture(scope="module")
def timetabled_day(system: System, event_id: int, attendee: str) -> int:
    """A second day (London time) with themes and one registration; its slots and breakouts are made in the page."""
    organiser = _api(system, *ORGANISER)  # made by the event_id fixture
    created = organiser.post(
        f"{system.url}/api/v1/events",
        json={
            "title": "Timetabled Insight Day",
            "starts_at": "2026-12-10T09:00:00Z",
            "ends_at": "2026-12-10T17:00:00Z",
            "timezone": "Europe/London",
        },
        timeout=10,
    )
    assert created.status_code == 201, created.text
    base = f"{system.url}/api/v1/events/{created.json()['id']}"
    assert organiser.put(f"{base}/thesaurus", json={"themes": TIMETABLED_THEMES}, timeout=10).status_code == 200
    grace = _api(system, attendee)
    wait_until(
        lambda: (
            grace.put(
                f"{base}/registration",
                json={"themes": ["data linkage", "consent"], "tools": [], "interests": []},
                timeout=10,
            ).status_code
            in (200, 201)
        ),
        timeout=30,
        interval=0.5,
        what="registration for the timetabled day",
    )
    return int(created.json()["id"])


def test_organiser_sets_up_breakouts_for_the_timetable(system: System, browser: Browser, timetabled_day: int) -> None:
    """Rooms per slot, a breakout left to the timetable with a "same slot as" constraint, a contradictory constraint
    refused next to its field, then the Timetable page's run places both in the slot with two rooms."""
    auditor = Auditor(prefix="setup-timetabling")
    context = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)  # axe is injected
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
    try:
        _sign_in(page, system.url, ORGANISER[0], ORGANISER[1])
        page.goto(f"{system.url}/events/{timetabled_day}/setup")
        page.wait_for_load_state()  # setup.js is deferred

        # Slots: 0 rooms is refused next to "Rooms"; then 10:00-11:00 with 2 rooms and 11:30-12:30 with 1.
        slot_form = page.locator("#slot-form")
        rooms = slot_form.get_by_label("Rooms")
        for starts, ends, count in (("10:00", "11:00", "2"), ("11:30", "12:30", "1")):
            slot_form.get_by_label("Starts").fill(f"2026-12-10T{starts}")
            slot_form.get_by_label("Ends").fill(f"2026-12-10T{ends}")
            if count == "2":
                rooms.fill("0")
                slot_form.get_by_role("button", name="Add slot").click()
                expect(rooms).to_have_attribute("aria-invalid", "true")
                expect(slot_form.locator("#slot-rooms-error")).to_contain_text("1")
            rooms.fill(count)
            slot_form.get_by_role("button", name="Add slot").click()
            expect(page.locator("#page-status")).to_have_text("Slot saved.")
        slots_table = page.get_by_role("table", name="The day's slots (2)")
        expect(slots_table.get_by_role("row", name="10:00–11:00 Breakouts 2 0")).to_be_visible()
        expect(slots_table.get_by_role("row", name="11:30–12:30 Breakouts 1 0")).to_be_visible()

        # A breakout without a slot: listed as "to be placed".
        form = page.locator("#breakout-form")
        expect(form.get_by_label("Slot", exact=True)).to_have_value("")  # "Let the timetable place it"
        form.get_by_label("Theme").select_option("data linkage")
        form.get_by_label("Title").fill("Linking records")
        form.get_by_label("Capacity").fill("10")
        form.get_by_role("button", name="Add breakout").click()
        expect(page.locator("#page-status")).to_have_text("Breakout saved.")
        breakouts = page.get_by_role("table", name="Themed breakouts (1), 1 to be placed by the timetable")
        expect(breakouts.get_by_role("row", name="to be placed Linking records")).to_be_visible()

        # A second one in the same slot as the first and also not: refused next to "Not in the same slot as".
        form.get_by_label("Theme").select_option("consent")
        form.get_by_label("Title").fill("Consent models")
        form.get_by_label("Capacity").fill("10")
        form.get_by_text("Timetabling constraints").click()
        form.get_by_label("Same slot as", exact=True).select_option(label="Linking records")
        not_with = form.get_by_label("Not in the same slot as", exact=True)
        not_with.select_option(label="Linking records")
        form.get_by_label("Presenter").fill("Ada Lovelace")
        form.get_by_role("button", name="Add breakout").click()
        expect(not_with).to_have_attribute("aria-invalid", "true")
        expect(not_with).to_be_focused()
        expect(form.locator("#breakout-not-same-slot-error")).to_have_text(
            "A breakout cannot be in the same slot as another and also not"
        )
        auditor.check(page, "setup-constraint-refused")
        not_with.select_option("")
        form.get_by_role("button", name="Add breakout").click()
        expect(page.locator("#page-status")).to_have_text("Breakout saved.")
        breakouts = page.get_by_role("table", name="Themed breakouts (2), 2 to be placed by the timetable")
        consent_row = breakouts.get_by_role("row", name="Consent models")
        expect(consent_row).to_contain_text("to be placed")
        expect(consent_row.locator("ul.rules li")).to_have_text(
            ["same slot as “Linking records”", "presented by Ada Lovelace"]
        )
        auditor.check(page, "setup-to-be-placed")

        # Editing it shows its constraints, folded open.
        breakout_ids = {
            b["title"]: str(b["id"])
            for b in _api(system, *ORGANISER)
            .get(f"{system.url}/api/v1/events/{timetabled_day}/breakouts", timeout=10)
            .json()["items"]
        }
        consent_row.get_by_role("button", name="Edit the breakout Consent models").click()
        expect(form.locator("#breakout-rules")).to_have_attribute("open", "")
        expect(form.get_by_label("Presenter")).to_have_value("Ada Lovelace")
        expect(form.get_by_label("Same slot as", exact=True)).to_have_value(breakout_ids["Linking records"])
        own = form.get_by_label("Not in the same slot as", exact=True).locator(
            f'option[value="{breakout_ids["Consent models"]}"]'
        )
        expect(own).to_be_disabled()  # not offered as its own pair
        form.get_by_role("button", name="Cancel").click()

        # The Timetable page: run, apply; both land in the slot with two rooms, as the constraint asks.
        page.get_by_role("link", name="Timetable", exact=True).first.click()
        expect(page.get_by_role("heading", name="Timetable", exact=True)).to_be_visible()
        expect(page.locator("tr.slot-row")).to_have_count(2)
        page.get_by_label("Time limit (seconds)").fill("10")
        page.get_by_role("button", name="Run the timetable").click()
        expect(page.get_by_text("finished.")).to_be_visible(timeout=90_000)
        page.get_by_role("button", name="Apply run").click()
        expect(page.get_by_text("applied:")).to_be_visible()

        page.goto(f"{system.url}/events/{timetabled_day}/setup")
        breakouts = page.get_by_role("table", name="Themed breakouts (2)")
        expect(breakouts).not_to_contain_text("to be placed")
        expect(breakouts.get_by_role("row", name="10:00–11:00 Linking records")).to_be_visible()
        expect(breakouts.get_by_role("row", name="10:00–11:00 Consent models")).to_be_visible()
        # A placed breakout cannot be handed back to the timetable from this form (the API keeps its slot).
        breakouts.get_by_role("button", name="Edit the breakout Consent models").click()
        expect(form.get_by_label("Slot", exact=True).locator('option[value=""]')).to_be_disabled()
        assert page.evaluate("document.documentElement.scrollWidth") <= 1280
        assert not auditor.violations, auditor.report()
        assert not problems, problems
    finally:
        context.close()
