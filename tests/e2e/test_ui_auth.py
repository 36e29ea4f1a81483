"""The web UI in a real Chromium against the whole system: register, welcome notification, read, sign out/in."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import requests
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import System
from tests.support.processes import ROOT, VENV_BIN

pytestmark = pytest.mark.e2e

PASSWORD = "correct horse battery staple"
EVENT_TITLE = "North Health Data Insight Day"
SLOW = 30_000  # ms: an event crosses the bus, the notify service and the push before the page can show it


def _create_event(system: System) -> None:
    """An organiser (made with the CLI, as in production) creates an insight day, so the home page has one."""
    subprocess.run(
        [str(VENV_BIN / "flask"), "--app", "services.gateway", "create-organiser", "org@example.org"]
        + ["--password", "organiser password 123"],
        cwd=ROOT,
        env=system.env,
        check=True,
        capture_output=True,
    )
    token = requests.post(
        f"{system.url}/api/v1/auth/login",
        json={"email": "org@example.org", "password": "organiser password 123"},
        timeout=10,
    ).json()["token"]
    created = requests.post(
        f"{system.url}/api/v1/events",
        json={
            "title": EVENT_TITLE,
            "starts_at": "2026-11-12T09:30:00Z",
            "ends_at": "2026-11-12T16:00:00Z",
            "timezone": "Europe/London",
        },
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert created.status_code == 201, created.text


def _register(page: Page, url: str, email: str, name: str) -> None:
    page.goto(f"{url}/register")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Your name").fill(name)
    page.get_by_label("Organisation").fill("North Health Trust")
    page.get_by_label("Region").fill("North East")
    page.get_by_role("button", name="Register").click()


def _sign_in(page: Page, url: str, email: str, password: str) -> None:
    page.goto(f"{url}/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_newcomer_registers_reads_welcome_and_signs_out_and_in(
    system: System, browser: Browser, tmp_path: Path
) -> None:
    _create_event(system)
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    failed: list[str] = []
    page.on("response", lambda r: r.status >= 400 and failed.append(f"{r.status} {r.request.method} {r.url}"))
    try:
        _register(page, system.url, "grace@example.org", "Grace Hopper")

        # Signed in on the home page, which lists the insight day in its own timezone (09:30Z is 09:30 GMT).
        expect(page).to_have_url(f"{system.url}/")
        nav = page.get_by_role("navigation", name="Main")
        expect(nav.locator(".nav-user")).to_have_text("Grace Hopper")
        expect(page.get_by_role("heading", name=EVENT_TITLE)).to_be_visible()
        expect(page.locator(".event-card time").first).to_have_text("Thu 12 Nov 2026, 09:30")

        # The welcome notification: UserRegistered -> notify -> stored + pushed; the badge shows it.
        badge = page.locator("#unread-badge")
        expect(badge).to_be_visible(timeout=SLOW)
        expect(badge.locator(".badge-count")).to_have_text("1")
        expect(nav.get_by_role("link", name="Notifications 1 unread")).to_be_visible()
        page.screenshot(path=str(tmp_path / "home.png"), full_page=True)

        page.get_by_role("link", name="Notifications 1 unread").click()
        expect(page).to_have_url(f"{system.url}/notifications")
        items = page.locator(".notification-list > li")
        expect(items).to_have_count(1)
        expect(items.first).to_contain_text("Welcome to Insight Days, Grace Hopper")
        expect(items.first).to_have_class("notification unread")
        mark_all = page.get_by_role("button", name="Mark all as read")
        expect(mark_all).to_be_visible()
        page.screenshot(path=str(tmp_path / "notifications.png"), full_page=True)
        page.emulate_media(color_scheme="dark")
        page.screenshot(path=str(tmp_path / "notifications-dark.png"), full_page=True)
        page.emulate_media(color_scheme="light")
        page.set_viewport_size({"width": 390, "height": 844})  # a phone: the nav wraps, nothing overflows
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        page.screenshot(path=str(tmp_path / "notifications-phone.png"), full_page=True)
        page.set_viewport_size({"width": 1280, "height": 800})

        mark_all.click()
        expect(badge).to_be_hidden()
        expect(mark_all).to_be_hidden()
        expect(items.first).to_have_class("notification")
        page.reload()  # read on the server, not only in this page
        expect(page.locator(".notification-list > li")).to_have_count(1)
        expect(page.locator(".notification.unread")).to_have_count(0)
        expect(page.locator("html")).to_have_attribute("data-live", "connected")  # socket up, and still 0
        expect(badge).to_be_hidden()

        page.get_by_role("button", name="Sign out").click()
        expect(page.get_by_role("navigation", name="Main").get_by_role("link", name="Sign in")).to_be_visible()
        expect(page.locator("#unread-badge")).to_have_count(0)
        page.goto(f"{system.url}/notifications")
        expect(page).to_have_url(f"{system.url}/login?next=%2Fnotifications")

        _sign_in(page, system.url, "grace@example.org", "not the password")
        expect(page.get_by_role("alert")).to_have_text("E-mail or password is wrong.")
        expect(page.get_by_role("button", name="Sign out")).to_have_count(0)
        page.screenshot(path=str(tmp_path / "login-error.png"), full_page=True)

        _sign_in(page, system.url, "grace@example.org", PASSWORD)
        expect(page.locator(".nav-user")).to_have_text("Grace Hopper")
        expect(page.locator("html")).to_have_attribute("data-live", "connected")
        expect(page.locator("#unread-badge")).to_be_hidden()
        assert not errors, errors
        assert failed == [f"401 POST {system.url}/login"], failed  # only the wrong password
    finally:
        context.close()


def test_bad_registration_shows_field_errors_and_creates_nothing(system: System, browser: Browser) -> None:
    context = browser.new_context()
    page = context.new_page()
    try:
        _register(page, system.url, "grace@example.org", "Someone Else")  # e-mail taken by the test above
        expect(page).to_have_url(f"{system.url}/register")
        email = page.get_by_label("E-mail")
        expect(email).to_have_attribute("aria-invalid", "true")
        expect(page.locator("#email-error")).to_have_text("An account with this e-mail address already exists.")
        expect(page.get_by_role("button", name="Sign out")).to_have_count(0)

        page.get_by_label("E-mail").fill("short@example.org")
        page.get_by_label("Password").fill("short")
        page.get_by_role("button", name="Register").click()
        expect(page.get_by_label("Password")).to_have_attribute("aria-invalid", "true")
        login = requests.post(
            f"{system.url}/api/v1/auth/login", json={"email": "short@example.org", "password": "short"}, timeout=10
        )
        assert login.status_code == 401
    finally:
        context.close()
