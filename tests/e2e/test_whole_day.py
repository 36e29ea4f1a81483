"""A whole insight day end to end in a real Chromium against the whole system (every process of `make run`, real
Redis, an SMTP server, matching's beat): an organiser sets the day up on its set-up page (thesaurus, a breakout slot,
three themed breakouts); two authors create projects, upload PDF posters and open chat slots; four attendees register
with ranked themes, search the gallery, open a project and book chats (one is told "taken"); the organiser runs the
assignment (progress bar) and publishes it; the attendees see their schedule with reasons; an attendee and an author
chat live; booking mails with a valid .ics arrive; the day ends for real (its end moved to a few seconds from now,
matching's beat announces it) and every attendee gets a digest; the organiser reads the outcome report and its CSV.

Every page opened goes through axe-core (WCAG 2.1 A/AA, phone and desktop width) and is saved as
`var/e2e/whole-day-*.png`; the later tests assert no serious/critical issue and that every HTML page of the
gateway was visited (or is listed in NOT_VISITED with a reason)."""

from __future__ import annotations

import csv
import importlib
import io
import re
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import Message
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import requests
from icalendar import Calendar
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.e2e.a11y import Auditor
from tests.e2e.conftest import System
from tests.e2e.helpers import PASSWORD, api_session, sign_in
from tests.fixtures.posters import pdf as text_pdf
from tests.support.processes import ROOT, VENV_BIN, Process, RedisServer, wait_until

pytestmark = pytest.mark.e2e

TITLE = "Whole Health Data Insight Day"
ZONE = ZoneInfo("Europe/London")
THEMES = ["data linkage", "mental health", "federated analytics"]
ORGANISER = ("whole-day-organiser@example.org", "organiser password 123")
POSTER_WORD = "quokkametrics"  # only in Ada's PDF text layer: found once the worker extracted it
SLOW = 60_000  # ms: uploads cross the posters worker; the assignment crosses matching's worker


@dataclass(frozen=True)
class Person:
    email: str
    name: str
    organisation: str
    region: str


ADA = Person("ada@whole-day.org", "Ada Lovelace", "North Health Trust", "North East")
GRACE = Person("grace@whole-day.org", "Grace Hopper", "South Data Lab", "London")
ALAN = Person("alan@whole-day.org", "Alan Turing", "East University", "East of England")
EDSGER = Person("edsger@whole-day.org", "Edsger Dijkstra", "West Council", "South West")
BARBARA = Person("barbara@whole-day.org", "Barbara Liskov", "North Health Trust", "North East")
TIM = Person("tim@whole-day.org", "Tim Berners-Lee", "Wales Care Charity", "Wales")
ATTENDEES = [ALAN, EDSGER, BARBARA, TIM]
RANKINGS = {  # each attendee's ranked themes
    ALAN.email: ["data linkage", "federated analytics", "mental health"],
    EDSGER.email: ["data linkage", "mental health"],
    BARBARA.email: ["mental health", "data linkage", "federated analytics"],
    TIM.email: ["federated analytics", "mental health"],
}
# Registered through the API (bulk set-up, not part of the story) so the report has a figure of 5 or more people.
CROWD = [Person(f"crowd{i}@whole-day.org", f"Crowd Member {i}", f"Crowd Org {i}", "Scotland") for i in range(4)]

# Gateway pages this module does not open, each with the reason (a new page without a visit or an entry fails).
NOT_VISITED: dict[str, str] = {}
EXCLUDED_PREFIXES = ("/api", "/static", "/vendor", "/socket.io", "/healthz", "/internal")

AUDITOR = Auditor()
FINISHED: list[str] = []  # "day" once the whole-day test ran to its end


@dataclass(frozen=True)
class Day:
    event_id: int
    base: datetime  # UTC, on a 5-minute mark: the times below are relative to it


def _register(system: System, person: Person, role: str) -> None:
    body = {"email": person.email, "password": PASSWORD, "display_name": person.name,
            "organisation": person.organisation, "region": person.region, "role": role}  # fmt: skip
    response = requests.post(f"{system.url}/api/v1/auth/register", json=body, timeout=30)
    assert response.status_code == 201, response.text


def _local(moment: datetime) -> datetime:
    return moment.astimezone(ZONE)


@pytest.fixture(scope="module")
def day(system: System, tmp_path_factory: pytest.TempPathFactory) -> Day:
    """The organiser (CLI), the empty day (API: there is no page to create one), the accounts, and matching's beat
    ticking every second so the day's end is announced as soon as it passes."""
    subprocess.run(
        [str(VENV_BIN / "flask"), "--app", "services.gateway", "create-organiser", ORGANISER[0]]
        + ["--password", ORGANISER[1]],
        cwd=ROOT, env=system.env, check=True, capture_output=True,
    )  # fmt: skip
    now = datetime.now(UTC)
    base = now.replace(second=0, microsecond=0) - timedelta(minutes=now.minute % 5)
    organiser = api_session(system, *ORGANISER)
    created = organiser.post(
        f"{system.url}/api/v1/events",
        json={"title": TITLE, "starts_at": (base - timedelta(hours=1)).isoformat(),
              "ends_at": (base + timedelta(hours=6)).isoformat(), "timezone": ZONE.key},
        timeout=30,
    )  # fmt: skip
    assert created.status_code == 201, created.text
    event_id = int(created.json()["id"])
    for person in (ADA, GRACE):
        _register(system, person, "author")
    for person in ATTENDEES + CROWD:
        _register(system, person, "attendee")
    wait_until(  # posters hears of the day over the bus
        lambda: organiser.get(f"{system.url}/api/v1/events/{event_id}/posters", timeout=10).status_code == 200,
        timeout=30, what="posters knowing the day",
    )  # fmt: skip
    tmp = tmp_path_factory.mktemp("whole-day-beat")
    system.processes["matching-beat"] = Process(
        "matching-beat",
        [str(VENV_BIN / "celery"), "-A", "services.matching.worker", "beat", "-s", str(tmp / "schedule")],
        {**system.env, "DAY_END_CHECK_EVERY_S": "1"},
        tmp,
    )  # stopped with the system, its log printed with the others
    return Day(event_id, base)


class Browsers:
    """One browser context per person; CSP bypassed only so that axe can be injected."""

    def __init__(self, browser: Browser) -> None:
        self.browser = browser
        self.contexts: list[BrowserContext] = []
        self.problems: list[str] = []

    def page(self, who: str) -> Page:
        context = self.browser.new_context(
            viewport={"width": 1280, "height": 900}, locale="en-GB", bypass_csp=True, accept_downloads=True
        )
        self.contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda exc: self.problems.append(f"{who} pageerror: {exc}"))
        page.on(
            "console",
            lambda msg: (
                msg.type == "error"
                and "status of 409" not in msg.text  # the "taken" booking, caused on purpose
                and self.problems.append(f"{who} console: {msg.text}")
            ),
        )
        page.on(  # server errors are bugs: note which request got one
            "response",
            lambda r: r.status >= 500 and self.problems.append(f"{who} {r.status} {r.request.method} {r.url}"),
        )
        page.on("dialog", lambda dialog: (self.problems.append(f"{who} dialog: {dialog.message}"), dialog.dismiss()))
        return page

    def close(self) -> None:
        for context in self.contexts:
            context.close()


@pytest.fixture(scope="module")
def browsers(browser: Browser) -> Iterator[Browsers]:
    made = Browsers(browser)
    yield made
    made.close()


def _mail(system: System, to: str, subject: str) -> Message:
    def found() -> Message | None:
        for message in list(system.mailbox.messages):
            if message["X-RcptTo"] == to and subject in str(message["Subject"]):
                return message
        return None

    return wait_until(found, timeout=90, interval=0.5, what=f"mail '{subject}' to {to}")  # type: ignore[return-value]


def _invite(message: Message) -> Calendar:
    parts = [p for p in message.walk() if p.get_content_type() == "text/calendar"]
    assert len(parts) == 1, [p.get_content_type() for p in message.walk()]
    return Calendar.from_ical(parts[0].get_payload(decode=True))


# --- the day's chapters -----------------------------------------------------------------------------------------
def _organiser_sets_up(page: Page, system: System, day: Day) -> None:
    sign_in(page, system.url, *ORGANISER)
    AUDITOR.check(page, "home-organiser")
    page.get_by_role("link", name=TITLE).first.click()
    page.get_by_role("link", name="Day set-up").click()
    page.wait_for_load_state()  # the forms send through setup.js (deferred): not before it is attached
    expect(page.get_by_role("heading", name="Day set-up", level=1)).to_be_visible()
    page.get_by_label("Themes, one per line").fill("\n".join(THEMES))
    page.get_by_role("button", name="Save themes").click()
    expect(page.locator("#page-status")).to_have_text("Themes saved.")

    starts, ends = _local(day.base + timedelta(hours=3)), _local(day.base + timedelta(hours=3, minutes=45))
    slot_form = page.locator("#slot-form")
    slot_form.get_by_label("Starts").fill(starts.strftime("%Y-%m-%dT%H:%M"))
    slot_form.get_by_label("Ends").fill(ends.strftime("%Y-%m-%dT%H:%M"))
    slot_form.get_by_role("button", name="Add slot").click()
    expect(page.locator("#page-status")).to_have_text("Slot saved.")

    breakout_form = page.locator("#breakout-form")
    for n, theme in enumerate(THEMES, start=1):
        slot_name = f"{starts:%H:%M}–{ends:%H:%M}"  # placed by hand, not left to a timetable run
        breakout_form.get_by_label("Slot", exact=True).select_option(label=slot_name)
        breakout_form.get_by_label("Theme").select_option(theme)
        breakout_form.get_by_label("Title").fill(f"{theme.capitalize()} round table")
        breakout_form.get_by_label("Capacity").fill("8")  # room for everyone who ranks it first
        breakout_form.get_by_role("button", name="Add breakout").click()
        expect(page.get_by_role("table", name=f"Themed breakouts ({n})")).to_contain_text(f"{theme.capitalize()}")
    AUDITOR.check(page, "setup")


def _author_presents(page: Page, system: System, day: Day, author: Person, project: dict[str, str],
                     poster_text: str, slot_starts: list[datetime], folder: Path) -> str:  # fmt: skip
    """The author creates the project, uploads a PDF poster (ready once the worker rendered it), opens chat slots."""
    sign_in(page, system.url, author.email)
    page.goto(f"{system.url}/events/{day.event_id}")
    page.get_by_text("New project", exact=True).click()
    form = page.locator("#new-project-form")
    form.get_by_label("Title").fill(project["title"])
    form.get_by_label("Summary").fill(project["summary"])
    form.get_by_label("Themes").fill(project["theme"])
    for n in range(3):
        form.get_by_label(f"Learning {n + 1}").fill(f"{project['title']}: learning {n + 1}")
    form.get_by_role("button", name="Create project").click()
    expect(page).to_have_url(re.compile(rf"^{re.escape(system.url)}/projects/\d+$"))
    page.wait_for_load_state()  # uploads go through the page's deferred script: not before it is attached
    project_url = page.url

    poster = folder / f"{author.email.split('@')[0]}-poster.pdf"
    poster.write_bytes(text_pdf(1, [poster_text]))
    page.get_by_label("Add files").set_input_files([poster])
    page.get_by_role("button", name="Upload", exact=True).click()
    expect(page.locator("#upload-list > li .status")).to_have_text("Ready", timeout=SLOW)

    section = page.locator("#chat-slots")
    slot_form = section.locator("#chat-slot-form")
    expect(slot_form).to_be_visible(timeout=30_000)  # matching hears of the new project over the bus
    for start in slot_starts:
        local = _local(start)
        slot_form.get_by_label("Date").fill(local.strftime("%Y-%m-%d"))
        slot_form.get_by_label("Start time").fill(local.strftime("%H:%M"))
        slot_form.get_by_label("Length").select_option("15")
        slot_form.get_by_role("button", name="Open slot").click()
        expect(section.locator(".chat-slots-message")).to_contain_text("Slot opened")
    expect(section.locator(".chat-slot")).to_have_count(len(slot_starts))
    AUDITOR.check(page, f"project-author-{author.email.split('@')[0]}")
    return project_url


def _attendee_registers(page: Page, system: System, day: Day, person: Person) -> None:
    sign_in(page, system.url, person.email)
    page.goto(f"{system.url}/events/{day.event_id}")
    page.get_by_role("link", name="Register for this day").click()
    page.wait_for_load_state()  # the form sends through setup.js (deferred): not before it is attached
    expect(page.get_by_role("heading", name="Register for this day")).to_be_visible()
    for label, theme in zip(("1st choice", "2nd choice", "3rd choice"), RANKINGS[person.email], strict=False):
        page.get_by_label(label).select_option(theme)
    page.get_by_label("Tools and systems you use").fill("R, SQL")
    page.get_by_role("button", name="Register", exact=True).click()
    expect(page.locator("#page-status")).to_have_text("Your registration is saved.")
    if person is ALAN:
        AUDITOR.check(page, "registration")


def _slot_label(page: Page, index: int) -> str:
    return page.locator("#chat-slots .chat-slot-time").nth(index).inner_text()


def test_a_whole_day(system: System, browsers: Browsers, day: Day, tmp_path: Path) -> None:  # noqa: PLR0915
    url, event_url = system.url, f"{system.url}/events/{day.event_id}"
    try:
        # --- 1. the organiser sets the day up on its page
        organiser = browsers.page("organiser")
        _organiser_sets_up(organiser, system, day)
        organiser_api = api_session(system, *ORGANISER)

        # --- 2. two authors present: projects, PDF posters, chat slots (in London time)
        chat_at = day.base + timedelta(hours=1)
        ada = browsers.page("ada")
        ada_project = _author_presents(
            ada, system, day, ADA,
            {"title": "Linking GP and hospital records", "summary": "Linking without moving data.",
             "theme": "data linkage"},
            f"Methods with {POSTER_WORD} and linkage", [chat_at, chat_at + timedelta(minutes=30)], tmp_path,
        )  # fmt: skip
        grace = browsers.page("grace")
        grace_project = _author_presents(
            grace, system, day, GRACE,
            {"title": "Peer support after discharge", "summary": "What peer workers taught us.",
             "theme": "mental health"},
            "Peer support results", [chat_at], tmp_path,
        )  # fmt: skip

        # --- 3. four attendees register with ranked themes
        pages = {person.email: browsers.page(person.name) for person in ATTENDEES}
        for person in ATTENDEES:
            _attendee_registers(pages[person.email], system, day, person)
        for n, person in enumerate(CROWD):  # bulk: registered through the API
            themes = [THEMES[(n + k) % len(THEMES)] for k in range(2)]
            joined = api_session(system, person.email).put(
                f"{url}/api/v1/events/{day.event_id}/registration", json={"themes": themes}, timeout=30
            )
            assert joined.status_code in (200, 201), joined.text

        # Alan searches the gallery by a word only in Ada's poster and opens the project.
        alan, edsger, barbara, tim = (pages[p.email] for p in ATTENDEES)
        alan.goto(event_url)
        AUDITOR.check(alan, "gallery")
        alan.get_by_label("Search projects").fill(POSTER_WORD)
        alan.get_by_role("button", name="Search").click()
        cards = alan.locator(".project-card")
        expect(cards).to_have_count(1)
        expect(cards.first).to_contain_text("Linking GP and hospital records")
        AUDITOR.check(alan, "gallery-search")
        cards.first.get_by_role("link").first.click()
        expect(alan).to_have_url(ada_project)
        alan.wait_for_load_state()
        expect(alan.locator("#chat-slots .chat-slot")).to_have_count(2)
        AUDITOR.check(alan, "project-attendee")

        # Edsger opens the same page while both slots are free; Alan books the first; Edsger is told "taken".
        edsger.goto(ada_project)
        expect(edsger.locator("#chat-slots .chat-slot-state")).to_have_text(["Free", "Free"])
        first, second = _slot_label(alan, 0), _slot_label(alan, 1)
        alan.get_by_role("button", name=f"Book {first}").click()
        expect(alan.locator("#chat-slots .chat-slot-state").first).to_have_text("Booked by you")
        edsger.get_by_role("button", name=f"Book {first}").click()
        expect(edsger.locator("#chat-slots .chat-slots-message")).to_have_text("This chat slot was just taken.")
        AUDITOR.check(edsger, "project-taken")
        edsger.get_by_role("button", name=f"Book {second}").click()
        expect(edsger.locator("#chat-slots .chat-slot-state").nth(1)).to_have_text("Booked by you")
        barbara.goto(grace_project)
        barbara.get_by_role("button", name=f"Book {_slot_label(barbara, 0)}").click()
        expect(barbara.locator("#chat-slots .chat-slot-state").first).to_have_text("Booked by you")
        tim.goto(grace_project)  # Tim only looks
        expect(tim.locator("#chat-slots .chat-slot-state").first).to_have_text("Taken")

        # --- 4. the organiser runs the assignment, watches the progress bar, publishes
        organiser.goto(event_url)
        organiser.get_by_role("link", name="Assignment").click()
        organiser.wait_for_load_state()
        expect(organiser.get_by_role("heading", name="Breakout assignment")).to_be_visible()
        AUDITOR.check(organiser, "assignment")
        organiser.get_by_role("button", name="Run the assignment").click()
        expect(organiser.locator("#live-progress")).to_be_visible()
        expect(organiser.get_by_text("finished.")).to_be_visible(timeout=90_000)
        row = organiser.locator("table.runs tbody tr").first
        expect(row.locator(".run-status")).to_have_text("succeeded")
        row.get_by_role("button", name="Publish").click()
        registered = len(ATTENDEES) + len(CROWD)
        expect(organiser.get_by_text(f"published: {registered} people have their schedule")).to_be_visible()
        AUDITOR.check(organiser, "assignment-published")

        # --- 5. the attendees see their breakout with the reason
        for person in ATTENDEES:
            page = pages[person.email]
            page.goto(f"{event_url}/my-schedule")
            items = page.locator("ol.schedule > li")
            expect(items).to_have_count(1)
            expect(items.first).to_contain_text("Why: your")
            expect(items.first.locator(".theme")).to_have_text(re.compile("|".join(RANKINGS[person.email])))
        AUDITOR.check(alan, "my-schedule")

        # --- 6. Alan and Ada chat live; the history survives a reload
        alan.goto(f"{url}/my-chats")
        AUDITOR.check(alan, "my-chats")
        alan.get_by_role("link", name="Open the chat room").click()
        alan.wait_for_load_state()
        room_url = alan.url
        ada.goto(f"{url}/my-chats")
        ada.locator(".my-chat", has_text="Alan Turing").get_by_role("link", name="Open the chat room").click()
        expect(ada).to_have_url(room_url)
        for page in (alan, ada):
            expect(page.locator("#chat-room")).to_have_attribute("data-connection", "connected", timeout=30_000)
        alan.get_by_label("Message", exact=True).fill("Hello Ada, how did you agree the data dictionary?")
        alan.get_by_role("button", name="Send").click()
        expect(ada.locator("#chat-messages")).to_contain_text("how did you agree the data dictionary?")
        ada.get_by_label("Message", exact=True).fill("One workshop per source system.")
        ada.get_by_role("button", name="Send").click()
        expect(alan.locator("#chat-messages")).to_contain_text("One workshop per source system.")
        alan.reload()
        expect(alan.locator("#chat-messages li.chat-message")).to_have_count(2)
        expect(alan.locator("#chat-messages")).to_contain_text("how did you agree the data dictionary?")
        AUDITOR.check(alan, "chat-room")
        alan.goto(f"{url}/chats")
        AUDITOR.check(alan, "chats")

        # --- 7. booking mails with a valid .ics invite at the SMTP server, in the day's timezone
        bookings = ((ALAN, ADA, chat_at), (EDSGER, ADA, chat_at + timedelta(minutes=30)), (BARBARA, GRACE, chat_at))
        unsubscribe = ""
        for attendee, author, start in bookings:
            message = _mail(system, attendee.email, f"Chat with {author.name} booked")
            event = _invite(message).walk("VEVENT")[0]
            assert event["DTSTART"].params["TZID"] == ZONE.key
            assert event.decoded("DTSTART") == start.astimezone(ZONE)
            assert event.decoded("DTEND") - event.decoded("DTSTART") == timedelta(minutes=15)
            unsubscribe = str(message["List-Unsubscribe"]).strip("<>")
        assert unsubscribe.startswith(f"{url}/unsubscribe/"), unsubscribe

        # --- 8. the day ends: its end moves to a few seconds from now, matching's beat announces it
        ends = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=5)
        moved = organiser_api.patch(f"{url}/api/v1/events/{day.event_id}", json={"ends_at": ends.isoformat()})
        assert moved.status_code == 200, moved.text
        for person in ATTENDEES:  # each attendee's digest, mailed
            _mail(system, person.email, "follow-up")
        alan.goto(f"{url}/notifications")
        digest = alan.get_by_text(f"Your follow-up from {TITLE}")
        deadline = time.monotonic() + 60
        while not digest.count() and time.monotonic() < deadline:
            alan.wait_for_timeout(1000)
            alan.reload()
        expect(digest.first).to_be_visible()
        AUDITOR.check(alan, "notifications")
        alan.get_by_role("link", name="Follow-up", exact=True).click()
        alan.wait_for_load_state()
        AUDITOR.check(alan, "followup")
        alan.get_by_role("link", name=TITLE).click()
        alan.wait_for_load_state()
        expect(alan.get_by_role("heading", name=f"Your follow-up from {TITLE}")).to_be_visible()
        expect(alan.locator(".followup-projects")).to_contain_text("Linking GP and hospital records")
        AUDITOR.check(alan, "digest")
        alan.get_by_role("link", name="Follow-up survey", exact=True).click()
        alan.wait_for_load_state()
        AUDITOR.check(alan, "survey")

        # --- 9. the organiser's outcome report: a figure, suppressed small cells, the CSV
        AUDITOR.visit(organiser, f"{event_url}/outcomes", "outcomes")
        funnel = organiser.locator("table#funnel")
        expect(funnel.get_by_role("row", name="Registered").locator("td")).to_have_text(str(registered))
        booked = organiser.locator("table#engagement").get_by_role("row", name="Booked a 1-1 chat")
        expect(booked.locator("td")).to_have_text("<5")  # three people: suppressed
        with organiser.expect_download() as download:
            organiser.get_by_role("link", name="Export CSV").click()
        rows = list(csv.reader(io.StringIO(Path(download.value.path()).read_text(encoding="utf-8-sig"))))
        assert ["funnel", "registered", "", str(registered)] in rows, rows
        assert ["engagement", "booked_chat", "", "<5"] in rows, rows

        # --- 10. every other page of the product, as the person who would open it
        for path, name in ((f"{event_url}/timetable", "timetable"), (f"{event_url}/author-approval", "author-approval"),
                           (f"{event_url}/spinoffs", "spinoffs"), (f"{event_url}/coffee", "coffee-organiser"),
                           (f"{event_url}/upload-failures", "upload-failures"), (f"{url}/status", "status"),
                           (f"{url}/notify/failed-emails", "failed-emails"),
                           (f"{event_url}/setup", "setup-after")):  # fmt: skip
            AUDITOR.visit(organiser, path, name)
        for path, name in ((f"{event_url}/agenda", "agenda"), (f"{event_url}/coffee", "coffee"),
                           (f"{event_url}/people", "people"), (f"{url}/me/profile", "profile"),
                           (f"{url}/me/contacts", "contacts"), (f"{url}/preferences", "preferences"),
                           (f"{url}/", "home-attendee")):  # fmt: skip
            AUDITOR.visit(tim, path, name)
        anonymous = browsers.page("anonymous")
        for path, name in ((f"{url}/login", "login"), (f"{url}/register", "register"),
                           (f"{url}/verify-email", "verify-email"), (unsubscribe, "unsubscribe")):  # fmt: skip
            AUDITOR.visit(anonymous, path, name)
        assert not browsers.problems, "\n".join(browsers.problems)
        FINISHED.append("day")
    except Exception:
        print(system.logs()[-12000:])
        raise


def test_no_serious_accessibility_issues() -> None:
    assert FINISHED, "the whole-day test did not finish: its pages were not all checked"
    assert AUDITOR.visited_paths
    assert not AUDITOR.violations, "axe-core, serious/critical:\n" + AUDITOR.report()


def _page_endpoints(var_dir: Path, redis_url: str) -> tuple[set[str], object]:
    """Every GET HTML page of the gateway, by endpoint, and a URL matcher."""
    mp = pytest.MonkeyPatch()
    for key, value in {"APP_ENV": "test", "VAR_DIR": str(var_dir), "REDIS_URL": redis_url}.items():
        mp.setenv(key, value)
    try:
        app = importlib.import_module("services.gateway").create_app({"RATE_LIMITS": False})
    finally:
        mp.undo()
    pages = {
        rule.endpoint
        for rule in app.url_map.iter_rules()
        if "GET" in (rule.methods or ())
        and not rule.rule.startswith(EXCLUDED_PREFIXES)
        and not rule.rule.endswith(".ics")  # file feeds, not pages
    }
    return pages, app.url_map.bind("127.0.0.1")


def test_every_page_was_visited(tmp_path: Path, redis_server: RedisServer) -> None:
    assert FINISHED, "the whole-day test did not finish: its pages were not all visited"
    pages, matcher = _page_endpoints(tmp_path / "var", redis_server.url)
    visited = {matcher.match(path, method="GET")[0] for path in AUDITOR.visited_paths}  # type: ignore[attr-defined]
    stale = sorted(set(NOT_VISITED) - pages)
    assert not stale, f"NOT_VISITED names pages that no longer exist: {stale}"
    missing = sorted(pages - visited - set(NOT_VISITED))
    assert not missing, f"pages neither visited by tests/e2e/test_whole_day.py nor listed in NOT_VISITED: {missing}"
