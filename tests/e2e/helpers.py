"""What the browser tests share: the test password, an API session as a user, signing in through the page."""

from __future__ import annotations

import requests
from playwright.sync_api import Page, expect

from tests.e2e.conftest import System

PASSWORD = "correct horse battery staple"


def api_session(system: System, email: str, password: str = PASSWORD) -> requests.Session:
    """A requests session carrying the user's bearer token (for set-up through the public API)."""
    token = requests.post(
        f"{system.url}/api/v1/auth/login", json={"email": email, "password": password}, timeout=30
    ).json()["token"]
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    return session


def sign_in(page: Page, url: str, email: str, password: str = PASSWORD) -> None:
    page.goto(f"{url}/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
