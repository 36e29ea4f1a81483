"""The day ends, in a real Chromium against the whole system plus matching's beat: an insight day ends a few
seconds after it is set up; matching's beat announces it, notify writes the attendee's digest (a project she
viewed, with its authors' learnings), shows it in the app and mails it; she opens it and answers the follow-up
survey in the browser (errors next to the questions first); the survey link from a mail works without signing in,
a tampered one does not."""

from __future__ import annotations

import json
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from playwright.sync_api import Browser, expect

from services.notify.followup.tokens import survey_url
from tests.e2e.conftest import System
from tests.e2e.helpers import PASSWORD
from tests.e2e.helpers import api_session as _api
from tests.e2e.helpers import sign_in as _sign_in
from tests.support.processes import ROOT, VENV_BIN, Process, wait_until

pytestmark = pytest.mark.e2e

ORGANISER = ("followup-organiser@example.org", "organiser password 123")
ADA = ("ada.followup@example.org", "Ada Lovelace")
GRACE = ("grace.followup@example.org", "Grace Hopper")
LEARNINGS = ["Ask the data steward first", "Synthetic data before real data", "Publish the linkage code"]
DAY_LEFT_S = 25  # the day ends this long after set-up starts: time to register, publish and view a project


def _register(system: System, email: str, name: str, role: str) -> None:
    body = {"email": email, "password": PASSWORD, "display_name": name, "organisation": "Org", "region": "North"}
    response = requests.post(f"{system.url}/api/v1/auth/register", json={**body, "role": role}, timeout=10)
    assert response.status_code == 201, response.text


@pytest.fixture(scope="module")
def ended_day(system: System, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """(event_id, project_id) of a day that ends shortly, with a matching beat ticking every second."""
    subprocess.run(
        [str(VENV_BIN / "flask"), "--app", "services.gateway", "create-organiser", ORGANISER[0]]
        + ["--password", ORGANISER[1]],
        cwd=ROOT,
        env=system.env,
        check=True,
        capture_output=True,
    )
    now = datetime.now(UTC).replace(microsecond=0)
    organiser = _api(system, *ORGANISER)
    created = organiser.post(
        f"{system.url}/api/v1/events",
        json={
            "title": "Linkage Follow-up Day",
            "starts_at": (now - timedelta(hours=2)).isoformat(),
            "ends_at": (now + timedelta(seconds=DAY_LEFT_S)).isoformat(),
            "timezone": "Europe/Paris",
        },
        timeout=10,
    )
    assert created.status_code == 201, created.text
    day = int(created.json()["id"])
    assert organiser.put(f"{system.url}/api/v1/events/{day}/thesaurus", json={"themes": ["linkage"]}, timeout=10).ok
    _register(system, ADA[0], ADA[1], "attendee")
    _register(system, GRACE[0], GRACE[1], "author")
    ada = _api(system, ADA[0])
    joined = ada.put(f"{system.url}/api/v1/events/{day}/registration", json={"themes": ["linkage"]}, timeout=10)
    assert joined.status_code == 200, joined.text
    project = {"title": "Record linkage at scale", "summary": "Linking registries.", "themes": ["linkage"]}

    def publish() -> requests.Response | None:  # posters learns of the new day by event, a moment later
        response = _api(system, GRACE[0]).post(
            f"{system.url}/api/v1/events/{day}/projects", json={**project, "learnings": LEARNINGS}, timeout=10
        )
        return response if response.status_code == 201 else None

    published = wait_until(publish, timeout=20, interval=0.3, what="project published")
    project_id = int(published.json()["id"])  # type: ignore[union-attr]
    assert ada.get(f"{system.url}/api/v1/projects/{project_id}", timeout=10).ok  # Ada views it: ProjectViewed
    assert datetime.now(UTC) < now + timedelta(seconds=DAY_LEFT_S), "set-up took longer than the day had left"

    tmp = tmp_path_factory.mktemp("matching-beat")
    beat = Process(
        "matching-beat",
        [str(VENV_BIN / "celery"), "-A", "services.matching.worker", "beat", "-s", str(tmp / "schedule")],
        {**system.env, "DAY_END_CHECK_EVERY_S": "1"},
        tmp,
    )
    system.processes["matching-beat"] = beat  # stopped with the system, its log printed with the others
    yield day, project_id


def test_the_digest_shows_in_app_and_the_survey_is_answered(
    system: System, browser: Browser, ended_day: tuple[int, int], tmp_path: Path
) -> None:
    day, project_id = ended_day
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(f"pageerror: {exc}"))
    try:
        _sign_in(page, system.url, ADA[0])
        # The in-app notification arrives once the day ended and the digest was written.
        page.goto(f"{system.url}/notifications")
        digest_link = page.get_by_text("Your follow-up from Linkage Follow-up Day")
        deadline = time.monotonic() + 120
        while not digest_link.count() and time.monotonic() < deadline:
            page.wait_for_timeout(1000)
            page.reload()
        expect(digest_link).to_be_visible()

        page.get_by_role("link", name="Follow-up", exact=True).click()
        expect(page.get_by_role("heading", name="My follow-up", level=1)).to_be_visible()
        page.get_by_role("link", name="Linkage Follow-up Day").click()
        expect(page.get_by_role("heading", name="Your follow-up from Linkage Follow-up Day")).to_be_visible()
        projects = page.locator(".followup-projects")
        expect(projects.get_by_role("link", name="Record linkage at scale")).to_have_attribute(
            "href", f"/projects/{project_id}"
        )
        for learning in LEARNINGS:
            expect(projects.get_by_text(learning)).to_be_visible()
        page.screenshot(path=str(tmp_path / "digest.png"), full_page=True)

        # The survey: sent without answers, each question says what is missing; then answered and saved.
        page.get_by_role("link", name="Follow-up survey", exact=True).click()
        expect(page.get_by_role("heading", name="What happened after Linkage Follow-up Day?")).to_be_visible()
        page.get_by_role("button", name="Send my answers").click()
        contacted = page.get_by_role("group", name="Since the day, did you contact anyone you met there?")
        expect(contacted.get_by_text("Choose yes or no.")).to_be_visible()
        contacted.get_by_label("Yes").check()
        page.get_by_role("group", name="Did you adopt or reuse anything you saw").get_by_label("No").check()
        page.get_by_label("What stopped you, or what would have helped? (optional)").fill("No time <b>yet</b>")
        page.get_by_role("button", name="Send my answers").click()
        expect(page.get_by_role("status").filter(has_text="your answers are saved")).to_be_visible()
        expect(contacted.get_by_label("Yes")).to_be_checked()
        expect(page.get_by_label("What stopped you, or what would have helped? (optional)")).to_have_value(
            "No time <b>yet</b>"
        )
        expect(page.get_by_role("button", name="Save my new answers")).to_be_visible()
        assert problems == []
    except Exception:
        print(system.logs()[-8000:])
        raise
    finally:
        context.close()

    # The digest was mailed to Ada too (real SMTP server), once.
    def digests() -> list[object]:
        return [m for m in system.mailbox.messages if ADA[0] in str(m["To"]) and "follow-up" in str(m["Subject"])]

    wait_until(digests, timeout=60, what="the digest mail")
    assert len(digests()) == 1

    # From the survey mail, without signing in: a valid signed link opens the survey, a tampered one is refused.
    secret = json.loads((Path(system.env["VAR_DIR"]) / "dev-secrets.json").read_text())["secret_key"]
    ada_id = int(_api(system, ADA[0]).get(f"{system.url}/api/v1/me", timeout=10).json()["id"])
    link = survey_url(system.url, secret, ada_id, day)
    anonymous = browser.new_context()
    page = anonymous.new_page()
    try:
        page.goto(link)
        expect(page.get_by_role("button", name="Save my new answers")).to_be_visible()
        page.get_by_role("group", name="Did you adopt or reuse anything you saw").get_by_label("Yes").check()
        page.get_by_role("button", name="Save my new answers").click()
        expect(page.get_by_role("status").filter(has_text="your answers are saved")).to_be_visible()
        expect(
            page.get_by_role("group", name="Did you adopt or reuse anything you saw").get_by_label("Yes")
        ).to_be_checked()
        response = page.goto(link[:-3] + "xyz")
        assert response is not None and response.status == 403
        expect(page.get_by_role("heading", name="This link does not work")).to_be_visible()
    finally:
        anonymous.close()
