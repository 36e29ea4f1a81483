"""Profiles, the people directory, contacts and random coffee in a real Chromium against the whole system: two
attendees set profiles with different visibility; one finds the other in the day's directory (only what was
allowed shows) and asks to connect; the other accepts and both see each other in My contacts. An organiser
creates a coffee round at the day's coffee slot, both opt in, the organiser pairs the round and each attendee sees
their partner."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import requests
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.e2e.conftest import System
from tests.e2e.helpers import PASSWORD
from tests.e2e.helpers import api_session as _api
from tests.e2e.helpers import sign_in as _sign_in
from tests.support.processes import ROOT, VENV_BIN

pytestmark = pytest.mark.e2e

ORGANISER = ("people-organiser@example.org", "organiser password 123")
ADA = ("ada.people@example.org", "Ada Lovelace", "Navy Health Analytics")
GRACE = ("grace.people@example.org", "Grace Hopper", "Royal Statistics Unit")
EXPECTED_REFUSALS = (400,)


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
    organiser = _api(system, *ORGANISER)
    created = organiser.post(
        f"{system.url}/api/v1/events",
        json={
            "title": "Summer People Day",
            "starts_at": "2030-06-03T08:00:00Z",  # 09:00-18:00 in London
            "ends_at": "2030-06-03T17:00:00Z",
            "timezone": "Europe/London",
        },
        timeout=10,
    )
    assert created.status_code == 201, created.text
    day = int(created.json()["id"])
    base = f"{system.url}/api/v1/events/{day}"
    assert organiser.put(f"{base}/thesaurus", json={"themes": ["data linkage", "privacy"]}, timeout=10).ok
    slot = organiser.post(
        f"{base}/slots",
        json={"starts_at": "2030-06-03T10:30:00Z", "ends_at": "2030-06-03T10:45:00Z", "kind": "coffee"},
        timeout=10,
    )
    assert slot.status_code == 201, slot.text
    for email, name, organisation in (ADA, GRACE):
        registered = requests.post(
            f"{system.url}/api/v1/auth/register",
            json={
                "email": email,
                "password": PASSWORD,
                "display_name": name,
                "organisation": organisation,
                "region": "South West",
                "role": "attendee",
            },
            timeout=10,
        )
        assert registered.status_code == 201, registered.text
        joined = _api(system, email).put(f"{base}/registration", json={"themes": ["data linkage"]}, timeout=10)
        assert joined.status_code == 200, joined.text
    return day


def _context(browser: Browser) -> tuple[BrowserContext, Page, list[str]]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
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
    page.on("dialog", lambda dialog: (problems.append(f"unexpected dialog: {dialog.message}"), dialog.dismiss()))
    return context, page, problems


def _shots(page: Page, folder: Path, name: str) -> None:
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    width = page.evaluate("document.documentElement.scrollWidth")
    page.screenshot(path=str(folder / f"{name}-phone.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})
    assert width <= 390, f"{name}: the page is {width}px wide on a 390px phone"


def _save_profile(page: Page, url: str, choices: dict[str, tuple[str, str]]) -> None:
    """choices: field label -> (value, who can see it)."""
    page.goto(f"{url}/me/profile")
    expect(page.get_by_role("heading", name="My profile", level=1)).to_be_visible()
    for label, (value, who) in choices.items():
        page.get_by_label(label, exact=True).fill(value)
        page.get_by_role("group", name=f"Who can see your {label.lower()}").get_by_label(who).check()
    page.get_by_role("button", name="Save profile").click()
    expect(page.locator("#page-status")).to_have_text("Your profile is saved.")


def test_profiles_directory_contacts_and_coffee(
    system: System, browser: Browser, event_id: int, tmp_path: Path
) -> None:
    url = system.url

    # --- Ada shares her role and interests with everyone, her bio with organisers only, her tools with nobody
    context, page, problems = _context(browser)
    try:
        _sign_in(page, url, ADA[0])
        page.get_by_role("link", name="My profile").click()
        expect(page.get_by_text("You have not saved your profile yet.")).to_be_visible()
        # a bad value is refused next to its field, nothing saved
        page.evaluate("document.getElementById('value-role').removeAttribute('maxlength')")
        page.get_by_label("Role", exact=True).fill("x" * 101)
        page.get_by_role("button", name="Save profile").click()
        expect(page.get_by_label("Role", exact=True)).to_have_attribute("aria-invalid", "true")
        expect(page.locator("#value-role-error")).to_have_text("At most 100 characters")
        _save_profile(
            page,
            url,
            {
                "Role": ("Data scientist", "Everyone at my events"),
                "Interests": ("record linkage\nconsent models", "Everyone at my events"),
                "Tools": ("R\nSQL", "Nobody"),
                "Short bio": ("I link GP and hospital records.", "Organisers only"),
            },
        )
        preview = page.get_by_role("region", name="What others see now")
        expect(preview).to_contain_text("Data scientist")
        expect(preview).to_contain_text("record linkage, consent models")
        _shots(page, tmp_path, "profile")
        assert not problems, problems
    finally:
        context.close()

    # --- Grace shares her role with everyone and her interests with organisers only; she finds Ada and asks
    context, page, problems = _context(browser)
    try:
        _sign_in(page, url, GRACE[0])
        _save_profile(
            page,
            url,
            {"Role": ("Epidemiologist", "Everyone at my events"), "Interests": ("record linkage", "Organisers only")},
        )
        page.goto(f"{url}/events/{event_id}")
        page.get_by_role("link", name="People", exact=True).click()
        expect(page.get_by_role("heading", name="People at this day")).to_be_visible()
        page.get_by_label("Interest").select_option("record linkage")
        page.get_by_role("button", name="Search").click()
        expect(page.locator("#people-count")).to_have_text("1 person matches.")
        card = page.get_by_role("listitem").filter(has=page.get_by_role("heading", name="Ada Lovelace"))
        expect(card).to_contain_text("Data scientist")
        expect(card).to_contain_text("Navy Health Analytics")
        expect(card).not_to_contain_text("hospital records")  # organisers only
        expect(card).not_to_contain_text("SQL")  # nobody
        card.get_by_text("Ask to connect").click()
        card.get_by_label("Message to Ada Lovelace").fill("We link records too: shall we compare notes?")
        card.get_by_role("button", name="Send request").click()
        expect(card.get_by_text("Request sent")).to_be_visible()
        _shots(page, tmp_path, "people")
        assert not problems, problems
    finally:
        context.close()

    # --- Ada sees Grace without her organisers-only interests, and accepts the request
    context, page, problems = _context(browser)
    try:
        _sign_in(page, url, ADA[0])
        page.goto(f"{url}/events/{event_id}/people")
        grace = page.get_by_role("listitem").filter(has=page.get_by_role("heading", name="Grace Hopper"))
        expect(grace).to_contain_text("Epidemiologist")
        expect(grace).not_to_contain_text("record linkage")
        expect(page.get_by_label("Interest").locator("option")).to_have_count(1)  # only "Any": nothing visible
        page.get_by_role("link", name="Contacts", exact=True).click()
        expect(page.locator(".request-message")).to_have_text("We link records too: shall we compare notes?")
        page.get_by_role("button", name="Accept Grace Hopper's request").click()
        expect(page.locator("#page-status")).to_have_text("You are now connected with Grace Hopper.")
        contacts = page.locator("#contacts-list")
        expect(contacts).to_contain_text("Grace Hopper")
        expect(contacts).to_contain_text("Epidemiologist")
        assert "@" not in page.locator("main").inner_text()
        _shots(page, tmp_path, "contacts")
        assert not problems, problems
    finally:
        context.close()

    # --- the organiser creates a coffee round at the day's coffee slot
    context, page, problems = _context(browser)
    try:
        _sign_in(page, url, *ORGANISER)
        page.goto(f"{url}/events/{event_id}/coffee")
        form = page.locator("#round-form")
        expect(form.get_by_label("When")).to_contain_text("Coffee slot 11:30–11:45")
        form.get_by_label("Minimum share of pairs across organisations (%)").fill("150")
        form.get_by_role("button", name="Create round").click()
        expect(form.get_by_label("Minimum share of pairs across organisations (%)")).to_have_attribute(
            "aria-invalid", "true"
        )
        form.get_by_label("Minimum share of pairs across organisations (%)").fill("100")
        form.get_by_role("button", name="Create round").click()
        expect(page.locator("#page-status")).to_have_text("Coffee round created.")
        expect(page.get_by_role("heading", name="Coffee at 11:30–11:45 (15 minutes)")).to_be_visible()
        assert not problems, problems
    finally:
        context.close()

    # --- both opt in
    for email in (ADA[0], GRACE[0]):
        context, page, problems = _context(browser)
        try:
            _sign_in(page, url, email)
            page.goto(f"{url}/events/{event_id}/coffee")
            page.get_by_role("button", name="Join this coffee").click()
            expect(page.locator("#page-status")).to_have_text("You joined the coffee at 11:30–11:45.")
            expect(page.get_by_text("The organisers pair everyone shortly before the round.")).to_be_visible()
            assert not problems, problems
        finally:
            context.close()

    # --- the organiser pairs the round and sees the share achieved
    context, page, problems = _context(browser)
    try:
        _sign_in(page, url, *ORGANISER)
        page.goto(f"{url}/events/{event_id}/coffee")
        page.get_by_role("button", name="Pair everyone now").click()
        expect(page.locator("#page-status")).to_have_text("Paired 1 group: 1 across organisations (100%).")
        expect(page.locator(".cross-share")).to_contain_text("1 of 1 (100%)")
        _shots(page, tmp_path, "coffee-organiser")
        assert not problems, problems
    finally:
        context.close()

    # --- each attendee sees their partner; Ada accepts, Grace sees it
    for (email, _, _), partner, accepts in ((ADA, "Grace Hopper", True), (GRACE, "Ada Lovelace", False)):
        context, page, problems = _context(browser)
        try:
            _sign_in(page, url, email)
            page.goto(f"{url}/events/{event_id}/coffee")
            expect(page.get_by_role("heading", name="Your coffee partner", exact=True)).to_be_visible()
            expect(page.locator(".partner .person-name")).to_contain_text(partner)
            if accepts:
                page.get_by_role("button", name="Accept").click()
                expect(page.locator("#page-status")).to_have_text("You accepted your coffee at 11:30–11:45.")
            else:
                expect(page.locator(".partner .pill")).to_have_text("accepted")
                _shots(page, tmp_path, "coffee-attendee")
            assert not problems, problems
        finally:
            context.close()
