"""Poster pages in a real Chromium against the whole system: an author creates a project and uploads posters that
the real worker renders; an attendee finds it by a word from the poster's text and filters the gallery; an
organiser sees upload failures and hides a project."""

from __future__ import annotations

import io
import re
import subprocess
from pathlib import Path

import pytest
import requests
from PIL import Image, ImageDraw
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.e2e.conftest import System
from tests.e2e.helpers import PASSWORD
from tests.e2e.helpers import api_session as _api
from tests.e2e.helpers import sign_in as _sign_in
from tests.fixtures.posters import pdf as text_pdf
from tests.support.processes import ROOT, VENV_BIN, wait_until

pytestmark = pytest.mark.e2e

ORGANISER = ("moderator@example.org", "organiser password 123")
SLOW = 90_000  # ms, a wait not a limit: an upload crosses the worker (render, extract text) before it shows ready
HOSTILE_TITLE = '<img src=x onerror="alert(1)"> Linking <b>GP</b> & hospital records'
EXPECTED_REFUSALS = (400, 415)  # the browser logs each refused request; these the tests cause on purpose
POSTER_WORD = "quokkametrics"  # only in the PDF's text layer: found only once the worker has extracted it


def _register(system: System, email: str, name: str, role: str) -> None:
    response = requests.post(
        f"{system.url}/api/v1/auth/register",
        json={
            "email": email,
            "password": PASSWORD,
            "display_name": name,
            "organisation": "North Health Trust",
            "region": "North East",
            "role": role,
        },
        timeout=10,
    )
    assert response.status_code == 201, response.text


@pytest.fixture(scope="module")
def event_id(system: System) -> int:
    """An insight day made by an organiser (created with the CLI) that the posters service knows about."""
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
            "title": "Regional Data Insight Day",
            "starts_at": "2026-11-12T09:30:00Z",
            "ends_at": "2026-11-12T16:00:00Z",
            "timezone": "Europe/London",
        },
        timeout=10,
    )
    assert created.status_code == 201, created.text
    new_id = int(created.json()["id"])
    wait_until(  # the posters service hears of the day over the bus
        lambda: organiser.get(f"{system.url}/api/v1/events/{new_id}/posters", timeout=10).status_code == 200,
        timeout=30,
        what="posters knowing the event",
    )
    return new_id


def _poster_png() -> bytes:
    """A poster-like PNG: title band, three coloured blocks."""
    image = Image.new("RGB", (900, 1200), (250, 250, 247))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, 900, 180), fill=(11, 92, 173))
    draw.text((40, 70), "Linking records safely", fill=(255, 255, 255))
    for i, colour in enumerate([(231, 111, 81), (42, 157, 143), (233, 196, 106)]):
        draw.rectangle((40, 240 + i * 300, 860, 500 + i * 300), fill=colour)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def _damaged_png() -> bytes:
    """Starts like a PNG (so the upload is accepted) but carries a script after its end: the worker refuses it."""
    out = io.BytesIO()
    Image.new("RGB", (120, 90), (200, 60, 60)).save(out, format="PNG")
    return out.getvalue() + b"<?php system($_GET['c']); ?>"


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

    def on_dialog(dialog) -> None:  # type: ignore[no-untyped-def]
        if not dialog.message.startswith("Delete"):
            problems.append(f"unexpected dialog: {dialog.message}")  # e.g. an injected alert(1)
        dialog.accept()

    page.on("dialog", on_dialog)
    return context, page, problems


def _images_loaded(page: Page, selector: str) -> int:
    """How many matching images have really decoded (naturalWidth > 0), after scrolling them into view."""
    for image in page.locator(selector).all():
        image.scroll_into_view_if_needed()
    return page.locator(selector).evaluate_all("imgs => imgs.filter(i => i.complete && i.naturalWidth > 0).length")


def test_author_publishes_posters_and_attendee_finds_and_filters(
    system: System, browser: Browser, event_id: int, tmp_path: Path
) -> None:
    _register(system, "ada@example.org", "Ada Lovelace", "author")
    _register(system, "alan@example.org", "Alan Turing", "attendee")
    author_api = _api(system, "ada@example.org")
    other = author_api.post(  # a second project so that a theme filter has something to leave out
        f"{system.url}/api/v1/events/{event_id}/projects",
        json={
            "title": "Peer support in mental health",
            "summary": "What peer workers taught us about follow-up after hospital discharge.",
            "themes": ["mental health"],
            "learnings": ["Listen first", "Small groups", "Follow up"],
            "tools": ["Excel"],
            "organisation": "South Mind",
        },
        timeout=10,
    )
    assert other.status_code == 201, other.text

    context, page, problems = _context(browser)
    try:
        # --- the author signs in, opens the day from the home page and creates a project through the form
        _sign_in(page, system.url, "ada@example.org")
        page.get_by_role("link", name="Regional Data Insight Day").click()
        expect(page).to_have_url(f"{system.url}/events/{event_id}")
        page.get_by_text("New project", exact=True).click()
        form = page.locator("#new-project-form")
        form.get_by_label("Title").fill(HOSTILE_TITLE)
        form.get_by_label("Summary").fill("How we linked GP and hospital data without moving it.")
        form.get_by_label("Themes").fill("data linkage, privacy")
        form.get_by_label("Learning 1").fill("Agree the data dictionary first.")
        form.get_by_label("Learning 2").fill("Pseudonymise at source.")
        form.get_by_label("Learning 3").fill("Bring the analysts to the data.")
        form.get_by_label("Open questions").fill("Who else links social care data?\nWhich consent model works?")
        form.get_by_label("Tools").fill("Python, SQL")
        form.get_by_label("Learning 2").fill("")  # a missing learning: the form says where, and sends nothing
        form.get_by_role("button", name="Create project").click()
        expect(form.get_by_label("Learning 2")).to_have_attribute("aria-invalid", "true")
        expect(form.locator("#new-learning-1-error")).to_have_text("Learning 2 is required.")
        page.screenshot(path=str(tmp_path / "new-project.png"), full_page=True)
        form.get_by_label("Learning 2").fill("Pseudonymise at source.")
        form.get_by_label("Video link").fill("http://video.example.org/talk")  # the API wants https
        form.get_by_role("button", name="Create project").click()
        expect(form.get_by_label("Video link")).to_have_attribute("aria-invalid", "true")
        expect(form.locator("#new-video-error")).to_have_text("Video links must use https")
        expect(form.get_by_label("Learning 2")).not_to_have_attribute("aria-invalid", "true")
        form.get_by_label("Video link").fill("https://video.example.org/talk")
        form.get_by_role("button", name="Create project").click()
        expect(page).to_have_url(re.compile(rf"^{re.escape(system.url)}/projects/\d+$"))
        project_url = page.url

        # The HTML-ish title is text, in the heading and the breadcrumb; nothing from it became an element.
        expect(page.locator("h1")).to_have_text(HOSTILE_TITLE)
        assert page.locator("h1 img, h1 b, .breadcrumbs img").count() == 0
        expect(page.get_by_role("link", name="Watch the video")).to_have_attribute(
            "href", "https://video.example.org/talk"
        )
        expect(page.locator(".learnings li")).to_have_text(
            ["Agree the data dictionary first.", "Pseudonymise at source.", "Bring the analysts to the data."]
        )
        expect(page.locator("#no-posters")).to_be_visible()

        # --- uploads: a PNG and a 2-page PDF become ready; an HTML file named .png and a damaged PNG are refused
        folder = tmp_path / "uploads"
        folder.mkdir()
        (folder / "overview.png").write_bytes(_poster_png())
        (folder / "methods.pdf").write_bytes(
            text_pdf(2, [f"Methods with {POSTER_WORD} and linkage", "Results page two"])
        )
        (folder / "sneaky.png").write_bytes(b"<!DOCTYPE html><html><script>alert(1)</script></html>")
        (folder / "broken.png").write_bytes(_damaged_png())
        page.get_by_label("Add files").set_input_files(
            [folder / "overview.png", folder / "methods.pdf", folder / "sneaky.png", folder / "broken.png"]
        )
        page.get_by_role("button", name="Upload", exact=True).click()
        rows = page.locator("#upload-list > li")
        expect(rows).to_have_count(4)
        for name in ("overview.png", "methods.pdf"):
            expect(rows.filter(has_text=name).locator(".status")).to_have_text("Ready", timeout=SLOW)
        sneaky = rows.filter(has_text="sneaky.png")
        expect(sneaky.locator(".status")).to_have_text("Rejected")
        expect(sneaky.locator(".upload-reason")).to_contain_text("HTML document")
        broken = rows.filter(has_text="broken.png")
        expect(broken.locator(".status")).to_have_text("Rejected", timeout=SLOW)
        expect(broken.locator(".upload-reason")).to_contain_text("after its end")
        expect(rows.filter(has_text="methods.pdf")).to_contain_text("2 pages")

        # Previews appear live, in upload order, and the images really load.
        previews = page.locator("#poster-previews .poster")
        expect(previews).to_have_count(2)
        expect(previews.nth(0)).to_contain_text("overview.png")
        expect(page.locator("#poster-previews .poster-page img")).to_have_count(3)
        assert wait_until(lambda: _images_loaded(page, "#poster-previews img") == 3, timeout=10, what="previews")
        expect(page.locator("#no-posters")).to_be_hidden()

        # Reorder: the PDF goes first, in the list and the previews, and stays first after a reload.
        page.get_by_role("button", name="Move overview.png down").click()
        expect(previews.nth(0)).to_contain_text("methods.pdf")
        expect(rows.nth(0)).to_contain_text("methods.pdf")
        broken.get_by_role("button", name="Delete broken.png").click()
        expect(rows.filter(has_text="broken.png")).to_have_count(0)
        page.get_by_text("Edit project details").click()
        page.locator("#edit-project-form").get_by_label("Region").fill("Yorkshire")
        page.get_by_role("button", name="Save changes").click()
        expect(page.locator(".project-byline .region")).to_have_text("Yorkshire")  # saved, and the page reloaded
        expect(previews.nth(0)).to_contain_text("methods.pdf")
        expect(rows).to_have_count(2)  # the refused HTML never became a file; the damaged one was deleted
        assert wait_until(lambda: _images_loaded(page, "#poster-previews img") == 3, timeout=10, what="previews")
        page.screenshot(path=str(tmp_path / "project-owner.png"), full_page=True)
        assert not problems, problems
    finally:
        context.close()

    # --- an attendee finds the project by a word that is only in the poster's text, then filters by theme
    context, page, problems = _context(browser)
    try:
        _sign_in(page, system.url, "alan@example.org")
        page.goto(f"{system.url}/events/{event_id}")
        expect(page.get_by_role("button", name="Create project")).to_have_count(0)  # attendees do not present
        cards = page.locator(".project-card")
        expect(cards).to_have_count(2)
        page.get_by_label("Search projects").fill(POSTER_WORD)
        page.get_by_role("button", name="Search").click()
        expect(page).to_have_url(f"{system.url}/events/{event_id}?q={POSTER_WORD}")
        expect(cards).to_have_count(1)
        expect(cards.first.locator("h2")).to_have_text(HOSTILE_TITLE)
        assert page.locator(".project-card h2 img").count() == 0
        assert wait_until(lambda: _images_loaded(page, ".project-thumb img") == 1, timeout=10, what="thumbnail")

        page.get_by_role("link", name="Clear search and filters").click()
        theme = page.get_by_label("Theme", exact=True)
        expect(theme.locator("option").filter(has_text="mental health")).to_have_text("mental health (1)")  # counts
        expect(page.locator("#filter-tool option")).to_have_text(["Any tool", "Excel (1)", "Python (1)", "SQL (1)"])
        theme.select_option("mental health")
        # Before searching, the other lists already count only projects about mental health (facets API).
        expect(page.locator("#filter-tool option")).to_have_text(["Any tool", "Excel (1)"])
        expect(page.locator("#facet-status")).to_have_text("1 project matches. Press Search to show them.")
        page.get_by_role("button", name="Search").click()
        expect(page).to_have_url(f"{system.url}/events/{event_id}?theme=mental+health")
        expect(cards).to_have_count(1)
        expect(cards.first).to_contain_text("Peer support in mental health")
        expect(theme.locator("option:checked")).to_have_text("mental health (1)")
        expect(theme.locator("option").filter(has_text="privacy")).to_have_text("privacy (1)")  # still switchable
        page.goto(f"{system.url}/events/{event_id}?theme=privacy&sort=recent")  # a shared link restores the view
        expect(page.get_by_label("Theme", exact=True)).to_have_value("privacy")
        expect(page.get_by_label("Sort by")).to_have_value("recent")
        expect(cards).to_have_count(1)
        expect(cards.first.locator("h2")).to_have_text(HOSTILE_TITLE)
        page.goto(f"{system.url}/events/{event_id}")
        page.screenshot(path=str(tmp_path / "gallery.png"), full_page=True)

        # The project page for a visitor: previews and similar projects, no owner tools.
        page.goto(project_url)
        expect(page.locator("#manage")).to_have_count(0)
        expect(page.locator(".questions li")).to_have_text(
            ["Who else links social care data?", "Which consent model works?"]
        )
        expect(page.locator(".tags-tool .tag")).to_have_text(["Python", "SQL"])
        expect(page.locator(".similar-list a").filter(has_text="Peer support in mental health")).to_have_count(1)
        assert wait_until(lambda: _images_loaded(page, "#poster-previews img") == 3, timeout=10, what="previews")
        page.screenshot(path=str(tmp_path / "project.png"), full_page=True)
        page.set_viewport_size({"width": 390, "height": 844})  # a phone: one column, nothing cut off
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        page.screenshot(path=str(tmp_path / "project-phone.png"), full_page=True)
        page.goto(f"{system.url}/events/{event_id}")
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        page.screenshot(path=str(tmp_path / "gallery-phone.png"), full_page=True)
        assert not problems, problems
    finally:
        context.close()


def test_organiser_sees_upload_failures_and_hides_a_project(
    system: System, browser: Browser, event_id: int, tmp_path: Path
) -> None:
    _register(system, "grace@example.org", "Grace Hopper", "author")
    author = _api(system, "grace@example.org")
    created = author.post(
        f"{system.url}/api/v1/events/{event_id}/projects",
        json={
            "title": "Federated analytics in primary care",
            "summary": "Models that travel to the data.",
            "themes": ["federated analytics"],
            "learnings": ["One", "Two", "Three"],
        },
        timeout=10,
    )
    assert created.status_code == 201, created.text
    project_id = created.json()["id"]
    upload = author.post(
        f"{system.url}/api/v1/projects/{project_id}/posters",
        files={"file": ("scan <1>.png", _damaged_png(), "image/png")},
        timeout=10,
    )
    assert upload.status_code == 202, upload.text
    poster_url = f"{system.url}/api/v1/posters/{upload.json()['id']}"
    wait_until(lambda: author.get(poster_url, timeout=10).json()["status"] == "rejected", timeout=30, what="reject")

    context, page, problems = _context(browser)
    try:
        _sign_in(page, system.url, *ORGANISER)
        page.goto(f"{system.url}/events/{event_id}")
        page.get_by_role("link", name="Upload failures").click()
        expect(page).to_have_url(f"{system.url}/events/{event_id}/upload-failures")
        row = page.locator("table.failures tbody tr").filter(has_text="Federated analytics in primary care")
        expect(row).to_have_count(1)
        expect(row.locator(".file-name")).to_contain_text("scan <1>.png")
        expect(row.locator(".reason")).to_contain_text("after its end")
        page.screenshot(path=str(tmp_path / "failures.png"), full_page=True)

        row.get_by_role("link", name="Federated analytics in primary care").click()
        page.get_by_label("Reason for hiding (optional)").fill("Duplicate of another project")
        page.get_by_role("button", name="Hide project").click()
        expect(page.locator(".hidden-banner")).to_contain_text("Duplicate of another project")
        expect(page.get_by_role("button", name="Show project to attendees")).to_be_visible()

        # Hidden from attendees (the API says so), still listed for organisers with a mark.
        gallery = author.get(f"{system.url}/api/v1/events/{event_id}/posters", timeout=10).json()
        assert project_id not in [c["id"] for c in gallery["items"]]
        page.goto(f"{system.url}/events/{event_id}")
        card = page.locator(".project-card").filter(has_text="Federated analytics in primary care")
        expect(card.locator(".pill-warn")).to_have_text("Hidden")

        card.get_by_role("link").click()
        page.get_by_role("button", name="Show project to attendees").click()
        expect(page.get_by_role("button", name="Hide project")).to_be_visible()
        gallery = author.get(f"{system.url}/api/v1/events/{event_id}/posters", timeout=10).json()
        assert project_id in [c["id"] for c in gallery["items"]]
        assert not problems, problems
    finally:
        context.close()

    # Not for anyone else: the failures page refuses an author.
    context, page, problems = _context(browser)
    try:
        _sign_in(page, system.url, "grace@example.org")
        response = page.goto(f"{system.url}/events/{event_id}/upload-failures")
        assert response is not None and response.status == 403
        expect(page.locator("h1")).to_have_text("Organisers only")

        # The author deletes the project: back on the day's page, without it.
        page.goto(f"{system.url}/projects/{project_id}")
        page.get_by_role("button", name="Delete project").click()
        expect(page).to_have_url(f"{system.url}/events/{event_id}")
        expect(page.locator(".project-card").filter(has_text="Federated analytics")).to_have_count(0)
        assert author.get(f"{system.url}/api/v1/projects/{project_id}", timeout=10).status_code == 404
        assert len(problems) == 1 and "status of 403" in problems[0], problems  # only the refused failures page
    finally:
        context.close()


def test_organiser_sees_the_system_status_and_dead_letters(system: System, browser: Browser, event_id: int) -> None:
    """The operator's page on the real system: all four services and their bus processes healthy, then a dead
    letter shows up in the count (the bus processes heartbeat every few seconds)."""
    context, page, problems = _context(browser)
    try:
        _sign_in(page, system.url, ORGANISER[0], ORGANISER[1])
        page.get_by_role("link", name="System status").click()
        expect(page.get_by_role("heading", name="System status")).to_be_visible()
        rows = page.locator("table.status-table tbody tr")
        expect(rows).to_have_count(4)
        for service in ("gateway", "posters", "matching", "notify"):
            row = page.locator(f'tr[data-service="{service}"]')
            expect(row.locator("td").nth(0)).to_have_text("ok")
            expect(row.locator("td").nth(3)).to_have_text("ok", timeout=20_000)  # the bus heartbeat
        expect(page.get_by_text("Everything is running.")).to_be_visible()

        client = system.redis.client()
        client.xadd(
            "insightdays:events:dead",
            {"event": "{}", "type": "ProjectPublished", "group": "matching", "reason": "failed 5 deliveries"},
        )
        page.reload()
        expect(page.locator('tr[data-service="matching"] td.dead-letters')).to_have_text("1")
        expect(page.get_by_role("heading", name="Dead letters")).to_be_visible()
        client.delete("insightdays:events:dead")
    finally:
        context.close()
    assert problems == []
