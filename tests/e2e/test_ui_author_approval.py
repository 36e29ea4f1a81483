"""The organiser switch "authors need approval" in a real Chromium against the whole system: with the switch on,
a self-registered author's project leaves the gallery; the organiser approves the author on the Author approval
page (linked from Day set-up) and the project is back."""

from __future__ import annotations

import subprocess

import pytest
import requests
from playwright.sync_api import Browser, expect

from tests.e2e.conftest import System
from tests.e2e.helpers import PASSWORD, api_session, sign_in
from tests.support.processes import ROOT, VENV_BIN, wait_until

pytestmark = pytest.mark.e2e

ORGANISER = ("approval-organiser@example.org", "organiser password 123")
AUTHOR = "approval-author@example.org"
PROJECT = {
    "title": "Self-registered sepsis project",
    "summary": "A project by an author nobody has vouched for yet.",
    "learnings": ["One", "Two", "Three"],
    "themes": ["sepsis"],
}


def test_unapproved_authors_wait_until_the_organiser_approves(system: System, browser: Browser) -> None:
    subprocess.run(
        [str(VENV_BIN / "flask"), "--app", "services.gateway", "create-organiser", ORGANISER[0]]
        + ["--password", ORGANISER[1]],
        cwd=ROOT,
        env=system.env,
        check=True,
        capture_output=True,
    )
    organiser = api_session(system, *ORGANISER)
    body = {"title": "Approval Day", "starts_at": "2026-12-09T08:00:00Z", "ends_at": "2026-12-09T16:00:00Z",
            "timezone": "Europe/Paris"}  # fmt: skip
    day_id = int(organiser.post(f"{system.url}/api/v1/events", json=body, timeout=10).json()["id"])
    gallery = f"{system.url}/api/v1/events/{day_id}/posters"
    wait_until(
        lambda: organiser.get(gallery, timeout=10).status_code == 200, timeout=30, what="posters knowing the day"
    )
    registration = {"email": AUTHOR, "password": PASSWORD, "display_name": "Self Registered",
                    "organisation": "Somewhere", "region": "North", "role": "author"}  # fmt: skip
    assert requests.post(f"{system.url}/api/v1/auth/register", json=registration, timeout=10).status_code == 201
    author = api_session(system, AUTHOR)

    def titles() -> list[str]:
        return [item["title"] for item in organiser.get(gallery, timeout=10).json()["items"]]

    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    page = context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    try:
        sign_in(page, system.url, *ORGANISER)
        page.goto(f"{system.url}/events/{day_id}/setup")
        page.get_by_role("link", name="Author approval").click()
        page.get_by_label("Authors need approval").check()
        page.get_by_role("button", name="Save").click()
        expect(page.get_by_role("status").first).to_contain_text("Authors now need approval")

        created = author.post(f"{system.url}/api/v1/events/{day_id}/projects", json=PROJECT, timeout=10)
        assert created.status_code == 201, created.text
        assert titles() == []  # held out of the gallery
        assert author.get(f"{system.url}/api/v1/projects/{created.json()['id']}", timeout=10).json()["hidden"]

        page.reload()
        row = page.locator("tr", has_text="Self Registered")
        expect(row).to_contain_text(PROJECT["title"])
        row.get_by_role("button", name="Approve").click()
        expect(page.get_by_role("status").first).to_contain_text("Author approved; 1 project(s)")
        assert titles() == [PROJECT["title"]]
        expect(page.locator("tr", has_text="Self Registered").get_by_role("button")).to_have_text("Take back approval")
        assert dialogs == []
    finally:
        context.close()
