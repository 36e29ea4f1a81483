"""Live notifications in a real Chromium: pushed through the Redis message queue, shown without a reload.

Pushes come from a separate SocketIO(message_queue=...) as the notify worker sends them. A pub/sub message sent
before the gateway has subscribed is lost, so a push is repeated (same id) until the page shows it: this also
checks that the page counts one notification once however often it arrives.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from flask_socketio import SocketIO
from playwright.sync_api import Browser, BrowserContext, Locator, Page, expect

from tests.e2e.conftest import System
from tests.support.processes import wait_until

pytestmark = pytest.mark.e2e

PASSWORD = "correct horse battery staple"
SCRIPTY = "<img src=x onerror=alert(1)>"
SLOW = 30_000  # ms: the welcome notification crosses the bus, the notify service and the push


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    yield context
    context.close()


def _signed_up(page: Page, system: System, email: str, name: str) -> int:
    """Registers through the form, waits for the welcome notification; returns the new user's id."""
    page.goto(f"{system.url}/register")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Your name").fill(name)
    page.get_by_label("Organisation").fill("South Data Lab")
    page.get_by_label("Region").fill("South")
    page.get_by_role("button", name="Register").click()
    expect(page).to_have_url(f"{system.url}/")
    expect(page.locator("#unread-badge .badge-count")).to_have_text("1", timeout=SLOW)
    return page.request.get(f"{system.url}/api/v1/me").json()["id"]


def _push_until_shown(system: System, user_id: int, data: dict[str, Any], shown: Locator) -> None:
    emitter = SocketIO(message_queue=system.env["REDIS_URL"])

    def attempt() -> bool:
        if shown.count():
            return True
        emitter.emit("notification", data, to=f"user:{user_id}", namespace="/chat")
        return False

    wait_until(attempt, timeout=30, interval=0.5, what=f"live notification {data['id']}")


def _notification(id_: int, title: str, body: str, link: str | None = "/notifications") -> dict[str, Any]:
    return {"id": id_, "kind": "test", "title": title, "body": body, "link": link, "created_at": "2026-11-12T10:00:00Z"}


def test_live_notification_updates_badge_toast_and_list_without_reload(
    system: System, context: BrowserContext, tmp_path: Path
) -> None:
    page = context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    user_id = _signed_up(page, system, "live@example.org", "Live Listener")
    expect(page.locator("html")).to_have_attribute("data-live", "connected")
    page.evaluate("window.__sameDocument = true")  # gone if anything reloads the page

    # On the home page: the badge goes to 2 and a toast shows the notification.
    toast = page.locator("#toasts .toast", has_text="Your breakout is ready")  # the welcome may have a toast too
    _push_until_shown(
        system, user_id, _notification(900001, "Your breakout is ready", f"Room B {SCRIPTY}", "//evil.example"), toast
    )
    expect(toast).to_have_count(1)
    expect(toast.locator(".toast-title")).to_have_text("Your breakout is ready")
    expect(toast.locator(".toast-body")).to_have_text(f"Room B {SCRIPTY}")
    expect(toast.locator("img")).to_have_count(0)  # shown as text, not parsed as markup
    expect(toast.get_by_role("link", name="View")).to_have_attribute("href", "/notifications")  # not off-site
    expect(page.locator("#toasts")).to_have_attribute("aria-live", "polite")
    expect(page.locator("#unread-badge .badge-count")).to_have_text("2")
    assert page.evaluate("window.__sameDocument") is True
    page.screenshot(path=str(tmp_path / "toast.png"))

    # The same notification again, then another: one pub/sub channel keeps order, so once the second shows,
    # the repeat has been handled too, and must not have counted or shown twice.
    emitter = SocketIO(message_queue=system.env["REDIS_URL"])
    breakout = _notification(900001, "Your breakout is ready", f"Room B {SCRIPTY}", "//evil.example")
    emitter.emit("notification", breakout, to=f"user:{user_id}", namespace="/chat")
    sentinel = page.locator("#toasts .toast", has_text="Poster approved")
    _push_until_shown(system, user_id, _notification(900003, "Poster approved", "Ready to view", None), sentinel)
    expect(page.locator("#unread-badge .badge-count")).to_have_text("3")
    expect(toast).to_have_count(1)

    toast.get_by_role("button", name="Dismiss notification").click()
    expect(toast).to_have_count(0)
    expect(sentinel).to_have_count(1)  # dismissing one leaves the others

    # On the notifications page: the new item goes on top of the list, and is announced.
    page.get_by_role("link", name=re.compile(r"^Notifications")).click()
    expect(page.locator(".notification-list > li")).to_have_count(1)  # the welcome (the pushes above were not stored)
    expect(page.locator("html")).to_have_attribute("data-live", "connected")
    expect(page.locator("#unread-badge .badge-count")).to_have_text("1")
    page.evaluate("window.__sameDocument = true")
    first = page.locator(".notification-list > li").first
    _push_until_shown(
        system,
        user_id,
        _notification(900002, "Chat booked with Ada", "Tomorrow 10:30", "/notifications#chat"),
        page.locator('.notification-list > li[data-id="900002"]'),
    )
    expect(page.locator(".notification-list > li")).to_have_count(2)
    expect(first).to_have_attribute("data-id", "900002")
    expect(first).to_contain_text("Chat booked with Ada")
    expect(first.get_by_role("link", name="Chat booked with Ada")).to_have_attribute("href", "/notifications#chat")
    expect(page.locator("#announcer")).to_have_text("New notification: Chat booked with Ada")
    expect(page.locator("#unread-badge .badge-count")).to_have_text("2")
    expect(page.locator("#toasts .toast")).to_have_count(0)  # the list itself shows it here
    assert page.evaluate("window.__sameDocument") is True
    page.screenshot(path=str(tmp_path / "notifications-live.png"), full_page=True)
    assert not dialogs


def test_script_looking_name_is_shown_as_text(system: System, context: BrowserContext) -> None:
    page = context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    _signed_up(page, system, "mallory@example.org", SCRIPTY)

    expect(page.locator(".nav-user")).to_have_text(SCRIPTY)
    page.goto(f"{system.url}/notifications")
    welcome = page.locator(".notification-list > li").first
    expect(welcome.locator(".notification-title")).to_have_text(f"Welcome to Insight Days, {SCRIPTY}")
    expect(page.locator('img[src="x"]')).to_have_count(0)
    assert not dialogs


def test_socketio_client_is_served_from_npm_install_with_caching(system: System) -> None:
    home = requests.Session()
    page = home.get(f"{system.url}/login", timeout=10).text
    assert "socket.io" not in page  # signed out: no live updates, no library
    csp = home.get(f"{system.url}/login", timeout=10).headers["Content-Security-Policy"]
    assert "script-src 'self';" in csp and "unsafe-inline" not in csp

    version = (
        requests.get(f"{system.url}/vendor/socket.io.min.js", timeout=10).text.split("Socket.IO v", 1)[1].split()[0]
    )
    assert version.startswith("4.")  # socket.io protocol v5, what python-socketio 5 speaks
    pinned = requests.get(f"{system.url}/vendor/socket.io.min.js?v={version}", timeout=10)
    assert pinned.status_code == 200
    assert pinned.headers["Content-Type"] == "text/javascript; charset=utf-8"
    assert "max-age=31536000" in pinned.headers["Cache-Control"] and "immutable" in pinned.headers["Cache-Control"]
    assert pinned.headers["X-Content-Type-Options"] == "nosniff"

    unpinned = requests.get(f"{system.url}/vendor/socket.io.min.js", timeout=10)
    assert "no-cache" in unpinned.headers["Cache-Control"]
    etag = unpinned.headers["ETag"]
    again = requests.get(f"{system.url}/vendor/socket.io.min.js", headers={"If-None-Match": etag}, timeout=10)
    assert again.status_code == 304

    for path in ("/vendor/../package.json", "/vendor/socket.io.js", "/vendor/%2e%2e/package-lock.json"):
        assert requests.get(f"{system.url}{path}", timeout=10).status_code == 404, path


def test_pages_still_work_without_the_npm_install(make_app, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """No node_modules (npm ci not run): no script tag pointing at nothing, a JSON 404, the rest of the page works."""
    app = make_app("gateway", NODE_MODULES_DIR=str(tmp_path / "missing"), WTF_CSRF_ENABLED=False)
    client = app.test_client()
    body = {"email": "ada@example.org", "password": PASSWORD, "display_name": "Ada", "organisation": "O", "region": "N"}
    assert client.post("/api/v1/auth/register", json=body).status_code == 201
    signed_in = client.post("/login", data={"email": "ada@example.org", "password": PASSWORD}, follow_redirects=True)
    assert signed_in.status_code == 200
    page = signed_in.get_data(as_text=True)
    assert 'id="unread-badge"' in page and "/static/app.js" in page
    assert "socket.io" not in page
    missing = client.get("/vendor/socket.io.min.js")
    assert missing.status_code == 404 and missing.get_json()["error"]["code"]
