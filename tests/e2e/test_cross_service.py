"""Real events flowing end to end through real processes: gateway -> notify, matching -> posters."""

from __future__ import annotations

import subprocess

import pytest
import requests

from tests.e2e.conftest import System
from tests.support.processes import ROOT, VENV_BIN, wait_until

pytestmark = pytest.mark.e2e


def _register(system: System, email: str, role: str = "attendee") -> int:
    response = requests.post(
        f"{system.url}/api/v1/auth/register",
        json={
            "email": email,
            "password": "correct horse battery staple",
            "display_name": email.split("@")[0].title(),
            "organisation": "North Health Trust",
            "region": "North",
            "role": role,
        },
        timeout=10,
    )
    assert response.status_code == 201, response.text
    return response.json()["id"]


def _login(system: System, email: str, password: str = "correct horse battery staple") -> requests.Session:
    response = requests.post(f"{system.url}/api/v1/auth/login", json={"email": email, "password": password}, timeout=10)
    assert response.status_code == 200, response.text
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {response.json()['token']}"
    return session


def test_registration_reaches_notify_as_welcome_notification_and_email(system: System) -> None:
    user_id = _register(system, "newcomer@example.org")
    me = _login(system, "newcomer@example.org")
    assert me.get(f"{system.url}/api/v1/me", timeout=10).json()["id"] == user_id

    def welcome() -> list[dict]:  # type: ignore[type-arg]
        return me.get(f"{system.url}/api/v1/me/notifications", timeout=10).json()["items"]

    items = wait_until(welcome, timeout=30, what="welcome notification")
    assert len(items) == 1 and "welcome" in items[0]["title"].lower()
    wait_until(
        lambda: any(m["To"] == "newcomer@example.org" for m in system.mailbox.messages),
        timeout=30,
        what="welcome email",
    )
    assert sum(m["To"] == "newcomer@example.org" for m in system.mailbox.messages) == 1


def test_event_created_in_matching_opens_posters_for_projects(system: System) -> None:
    subprocess.run(
        [
            str(VENV_BIN / "flask"),
            "--app",
            "services.gateway",
            "create-organiser",
            "boss@example.org",
            "--password",
            "organiser password 123",
        ],
        cwd=ROOT,
        env=system.env,
        check=True,
        capture_output=True,
    )
    organiser = _login(system, "boss@example.org", "organiser password 123")
    _register(system, "author@example.org", role="author")
    author = _login(system, "author@example.org")
    project = {
        "title": "Linking records safely",
        "summary": "How we linked GP and hospital data.",
        "themes": ["data linkage"],
        "learnings": ["one", "two", "three"],
        "questions": ["Who else?"],
    }

    refused = author.post(f"{system.url}/api/v1/events/424242/projects", json=project, timeout=10)
    assert refused.status_code == 404

    attendee_try = author.post(
        f"{system.url}/api/v1/events",
        json={
            "title": "Not mine to make",
            "starts_at": "2026-12-01T09:00:00Z",
            "ends_at": "2026-12-01T17:00:00Z",
            "timezone": "UTC",
        },
        timeout=10,
    )
    assert attendee_try.status_code == 403

    created = organiser.post(
        f"{system.url}/api/v1/events",
        json={
            "title": "Insight day",
            "starts_at": "2026-12-01T09:00:00Z",
            "ends_at": "2026-12-01T17:00:00Z",
            "timezone": "Europe/London",
        },
        timeout=10,
    )
    assert created.status_code == 201, created.text
    event_id = created.json()["id"]

    accepted = wait_until(
        lambda: (
            (r := author.post(f"{system.url}/api/v1/events/{event_id}/projects", json=project, timeout=10)).status_code
            == 201
            and r
        ),
        timeout=30,
        what="posters learning about the event",
    )
    project_id = accepted.json()["id"]  # type: ignore[union-attr]
    fetched = author.get(f"{system.url}/api/v1/projects/{project_id}", timeout=10)
    assert fetched.status_code == 200 and fetched.json()["title"] == "Linking records safely"


def test_unauthenticated_calls_get_401_everywhere(system: System) -> None:
    for method, path in [
        ("get", "/api/v1/me"),
        ("get", "/api/v1/events"),
        ("post", "/api/v1/events"),
        ("get", "/api/v1/me/notifications"),
        ("get", "/api/v1/posters/1"),
        ("post", "/api/v1/events/1/projects"),
    ]:
        response = requests.request(method, f"{system.url}{path}", json={}, timeout=10)
        assert response.status_code == 401, (method, path, response.status_code)
        assert response.json()["error"]["code"]
