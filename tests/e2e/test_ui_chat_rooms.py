"""1-1 chat rooms in a real Chromium against the whole system: a chat booked through matching opens a room in the
gateway; author and attendee talk live (presence, typing, countdown, text only with safe links); the attendee goes
offline (Playwright's set_offline), writes two messages that wait in the page and are sent once on reconnect while
the message written to them meanwhile arrives by resume, with no gap and no duplicate; follow-up actions; unread
counts on "My chats"; an outsider gets "not found"; the ask-me-anything rooms stay 1-1."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import requests
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.e2e.conftest import System
from tests.e2e.helpers import PASSWORD, sign_in
from tests.e2e.helpers import api_session as _api
from tests.support.processes import ROOT, VENV_BIN, wait_until

pytestmark = pytest.mark.e2e

ORGANISER = ("rooms-organiser@example.org", "organiser password 123")


@dataclass(frozen=True)
class Booked:
    project_id: int
    room_id: str


def _register(system: System, email: str, name: str, role: str) -> None:
    body = {"email": email, "password": PASSWORD, "display_name": name, "organisation": "North Health Trust",
            "region": "North East", "role": role}  # fmt: skip
    response = requests.post(f"{system.url}/api/v1/auth/register", json=body, timeout=30)
    assert response.status_code == 201, response.text


@pytest.fixture(scope="module")
def booked(system: System) -> Booked:
    """A day, Ada's project, one of her chat slots booked by Alan through matching: the room comes by event."""
    subprocess.run(
        [str(VENV_BIN / "flask"), "--app", "services.gateway", "create-organiser", ORGANISER[0]]
        + ["--password", ORGANISER[1]],
        cwd=ROOT, env=system.env, check=True, capture_output=True,
    )  # fmt: skip
    organiser = _api(system, *ORGANISER)
    day = {"title": "Rooms Day", "starts_at": "2030-06-03T08:00:00Z", "ends_at": "2030-06-03T17:00:00Z",
           "timezone": "Europe/London"}  # fmt: skip
    day_id = organiser.post(f"{system.url}/api/v1/events", json=day, timeout=10).json()["id"]
    wait_until(
        lambda: organiser.get(f"{system.url}/api/v1/events/{day_id}/posters", timeout=10).status_code == 200,
        timeout=30, what="posters knowing the day",
    )  # fmt: skip
    for email, name, role in (("ada@rooms.org", "Ada Lovelace", "author"), ("alan@rooms.org", "Alan Turing",
                              "attendee"), ("grace@rooms.org", "Grace Hopper", "attendee"),
                              ("eve@rooms.org", "Eve Outsider", "author")):  # fmt: skip
        _register(system, email, name, role)
    ada, alan = _api(system, "ada@rooms.org"), _api(system, "alan@rooms.org")
    project = ada.post(
        f"{system.url}/api/v1/events/{day_id}/projects",
        json={"title": "Linking records", "summary": "How.", "themes": ["data linkage"], "learnings": ["1", "2", "3"]},
        timeout=10,
    )
    assert project.status_code == 201, project.text
    project_id = int(project.json()["id"])
    wait_until(
        lambda: ada.get(f"{system.url}/api/v1/projects/{project_id}/chat-slots", timeout=10).json()["known"],
        timeout=30, what="matching knowing the project",
    )  # fmt: skip
    slot = ada.post(
        f"{system.url}/api/v1/projects/{project_id}/chat-slots",
        json={"starts_at": "2030-06-03T09:00:00Z", "minutes": 15},
        timeout=10,
    )
    assert slot.status_code == 201, slot.text
    booking = alan.post(f"{system.url}/api/v1/chat-slots/{slot.json()['id']}/booking", timeout=10)
    assert booking.status_code == 201, booking.text
    room_id = booking.json()["room_id"]
    wait_until(  # eventual consistency: 404 until the gateway's bus applied ChatSlotBooked
        lambda: alan.get(f"{system.url}/api/v1/chat-rooms/{room_id}", timeout=10).status_code == 200,
        timeout=30, what="the room opened in the gateway",
    )  # fmt: skip
    return Booked(project_id, room_id)


@pytest.fixture
def contexts(browser: Browser) -> Iterator[list[BrowserContext]]:
    made: list[BrowserContext] = []
    yield made
    for context in made:
        context.close()


def _page(browser: Browser, contexts: list[BrowserContext], problems: list[str]) -> Page:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    contexts.append(context)
    page = context.new_page()
    page.on("pageerror", lambda exc: problems.append(f"pageerror: {exc}"))
    return page


def _messages(page: Page) -> list[str]:
    return page.locator("#chat-messages li.chat-message:not(.pending) .chat-message-text").all_inner_texts()


def test_live_chat_offline_queue_safe_links_actions_and_unread(
    system: System, browser: Browser, booked: Booked, contexts: list[BrowserContext]
) -> None:
    problems: list[str] = []
    room_url = f"{system.url}/chats/{booked.room_id}"
    ada, alan = _page(browser, contexts, problems), _page(browser, contexts, problems)
    sign_in(ada, system.url, "ada@rooms.org")
    sign_in(alan, system.url, "alan@rooms.org")
    ada.goto(room_url)
    alan.goto(room_url)
    for page in (ada, alan):
        expect(page.locator("#chat-room")).to_have_attribute("data-connection", "connected")
        expect(page.locator("#chat-countdown")).to_contain_text("left")  # the chat's slot ends in 2030
    expect(ada.locator("#chat-presence li")).to_have_count(2)
    expect(ada.locator("#chat-presence")).to_contain_text("Alan Turing")

    # Text only, links made safe.
    hostile = "<script>window.pwned=1</script> <img src=x onerror=alert(1)> javascript:alert(1) see https://example.org/x."
    alan.get_by_label("Message", exact=True).fill(hostile)
    alan.get_by_role("button", name="Send").click()
    last = ada.locator("#chat-messages li.chat-message").last
    expect(last).to_contain_text("<script>window.pwned=1</script>")
    assert ada.locator("#chat-messages script, #chat-messages img").count() == 0
    assert ada.evaluate("window.pwned") is None
    links = last.locator("a")
    expect(links).to_have_count(1)
    expect(links).to_have_attribute("href", "https://example.org/x")
    expect(links).to_have_attribute("rel", "noopener noreferrer nofollow")

    # Typing indicator, live.
    ada.get_by_label("Message", exact=True).press_sequentially("hel")
    expect(alan.locator("#chat-typing")).to_contain_text("Ada Lovelace is typing")

    # Too long: a clear error, nothing sent.
    alan.get_by_label("Message", exact=True).fill("x" * 2001)
    alan.get_by_role("button", name="Send").click()
    expect(alan.locator("#chat-error")).to_contain_text("at most 2,000 characters")
    alan.get_by_label("Message", exact=True).fill("")

    # Offline: two messages wait in the page (localStorage); Ada writes meanwhile.
    alan.context.set_offline(True)
    expect(alan.locator("#chat-room")).to_have_attribute("data-connection", "offline")
    for text in ("written offline 1", "written offline 2"):
        alan.get_by_label("Message", exact=True).fill(text)
        alan.get_by_role("button", name="Send").click()
    expect(alan.locator("#chat-messages li.pending")).to_have_count(2)
    queued = alan.evaluate(f"JSON.parse(localStorage.getItem('insightdays:chat-outbox:' + "
                           f"document.getElementById('chat-room').dataset.me + ':{booked.room_id}'))")  # fmt: skip
    assert [q["text"] for q in queued] == ["written offline 1", "written offline 2"]
    ada.get_by_label("Message", exact=True).fill("while you were offline")
    ada.get_by_role("button", name="Send").click()
    expect(ada.locator("#chat-messages")).to_contain_text("while you were offline")
    assert "written offline 1" not in " ".join(_messages(ada))

    alan.context.set_offline(False)
    expect(alan.locator("#chat-room")).to_have_attribute("data-connection", "connected")
    expect(alan.locator("#chat-messages li.pending")).to_have_count(0)
    expect(ada.locator("#chat-messages")).to_contain_text("written offline 2")
    expect(alan.locator("#chat-messages")).to_contain_text("while you were offline")
    stored = _api(system, "alan@rooms.org").get(f"{system.url}/api/v1/chat-rooms/{booked.room_id}/messages").json()
    texts = [m["text"] for m in stored["items"]]
    assert texts.count("written offline 1") == 1 and texts.count("written offline 2") == 1
    assert texts.count("while you were offline") == 1
    for page in (ada, alan):  # the same messages, in server order, each once
        expect(page.locator("#chat-messages li.chat-message:not(.pending)")).to_have_count(len(texts))
        assert _messages(page) == texts
    assert alan.evaluate(f"localStorage.getItem('insightdays:chat-outbox:' + "
                         f"document.getElementById('chat-room').dataset.me + ':{booked.room_id}')") is None  # fmt: skip
    alan.reload()  # history after a reload: the same list, no duplicates
    expect(alan.locator("#chat-messages li.chat-message")).to_have_count(len(texts))

    # A follow-up action for Ada, noted by Alan: she sees it live and marks it done.
    alan.get_by_label("What is to be done").fill("send the code")
    alan.get_by_label("Who does it").select_option(label="Ada Lovelace")
    alan.get_by_role("button", name="Note the action").click()
    action = ada.locator("#chat-actions li", has_text="send the code")
    expect(action).to_be_visible()
    action.get_by_role("button", name="Mark done").click()
    expect(alan.locator("#chat-actions li", has_text="send the code")).to_contain_text("(done)")

    # Unread counts: Ada leaves; Alan writes twice; "My chats" shows 2 for this room.
    ada.goto(f"{system.url}/my-chats")
    for text in ("are you there?", "ping"):
        alan.get_by_label("Message", exact=True).fill(text)
        alan.get_by_role("button", name="Send").click()
        expect(alan.locator("#chat-messages li.chat-message:not(.pending)").last).to_contain_text(text)
    ada.reload()
    expect(ada.locator(".my-chat-unread")).to_have_attribute("data-unread", "2")
    ada.goto(f"{system.url}/chats")
    expect(ada.locator(f'[data-room="{booked.room_id}"] .chat-unread')).to_have_attribute("data-unread", "2")
    ada.goto(room_url)
    expect(ada.locator("#chat-messages")).to_contain_text("ping")
    wait_until(
        lambda: _api(system, "ada@rooms.org").get(f"{system.url}/api/v1/chat-rooms").json()["items"][0]["unread"] == 0,
        what="read marker",
    )
    assert problems == []

    # Someone else's room: the same page as for a room that does not exist.
    eve = _page(browser, contexts, [])
    sign_in(eve, system.url, "eve@rooms.org")
    response = eve.goto(room_url)
    assert response is not None and response.status == 404
    expect(eve.get_by_role("heading", name="Chat room not found")).to_be_visible()


def test_ask_me_anything_rooms_are_one_per_attendee(system: System, booked: Booked) -> None:
    base = f"{system.url}/api/v1/chat-rooms/ama/{booked.project_id}"
    ada, alan = _api(system, "ada@rooms.org"), _api(system, "alan@rooms.org")
    grace, eve = _api(system, "grace@rooms.org"), _api(system, "eve@rooms.org")
    assert alan.post(f"{base}/room", timeout=10).status_code == 404  # not open yet
    assert alan.put(base, timeout=10).status_code == 403  # attendees open none
    forbidden = eve.put(base, timeout=10)  # an author, but not of this project
    assert forbidden.status_code == 403 and forbidden.json()["error"]["code"] == "forbidden"
    opened = ada.put(base, timeout=10)
    assert opened.status_code == 200 and opened.json()["open"] is True
    first = alan.post(f"{base}/room", timeout=10)
    again = alan.post(f"{base}/room", timeout=10)
    other = grace.post(f"{base}/room", timeout=10)
    assert first.status_code == 201 and again.status_code == 200 and other.status_code == 201
    assert first.json()["room_id"] == again.json()["room_id"] != other.json()["room_id"]
    alans, graces = first.json()["room_id"], other.json()["room_id"]
    assert ada.get(f"{system.url}/api/v1/chat-rooms/{alans}", timeout=10).json()["kind"] == "ama"
    assert alan.get(f"{system.url}/api/v1/chat-rooms/{graces}", timeout=10).status_code == 404
    assert ada.post(f"{base}/room", timeout=10).status_code == 409  # the author talks in the attendees' rooms
    hello = {"client_id": "q1", "text": "What did you learn?"}
    assert alan.post(f"{system.url}/api/v1/chat-rooms/{alans}/messages", json=hello, timeout=10).status_code == 201
    assert ada.delete(base, timeout=10).json()["open"] is False
    closed = alan.post(f"{system.url}/api/v1/chat-rooms/{alans}/messages", json={"client_id": "q2", "text": "hi"})
    assert closed.status_code == 409 and closed.json()["error"]["code"] == "closed"
