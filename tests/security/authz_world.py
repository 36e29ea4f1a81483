"""The people and things the authorisation matrix is run against, made through the public API of a running stack.

Seven personas: anonymous, attendee, other attendee, author, other author, organiser of another day, organiser
(of "the day"). The attendee and the author are registered for the day; the attendee asked a question on the
author's project, booked one of its chat slots (so a chat room exists) and asked the author to connect.
"""

from __future__ import annotations

import base64
import subprocess
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import requests

from tests.support.processes import ROOT, VENV_BIN, wait_until

PERSONAS = ("anonymous", "attendee", "other_attendee", "author", "other_author", "other_organiser", "organiser")
PASSWORD = "correct horse battery staple"
# A 1x1 PNG: enough for an accepted upload.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


@dataclass
class World:
    url: str
    env: dict[str, str]
    tokens: dict[str, str | None] = field(default_factory=dict)
    user_ids: dict[str, int] = field(default_factory=dict)
    ids: dict[str, Any] = field(default_factory=dict)

    def headers(self, persona: str) -> dict[str, str]:
        token = self.tokens.get(persona)
        return {"Authorization": f"Bearer {token}"} if token else {}

    def call(self, persona: str, method: str, path: str, **kwargs: Any) -> requests.Response:
        return requests.request(method, self.url + path, headers=self.headers(persona), timeout=60, **kwargs)

    def ok(self, persona: str, method: str, path: str, **kwargs: Any) -> Any:
        response = self.call(persona, method, path, **kwargs)
        assert response.status_code < 300, (method, path, response.status_code, response.text[:300])
        return response.json() if response.content else None

    def login(self, persona: str) -> str:
        email = f"{persona}@example.org"
        body = {"email": email, "password": PASSWORD}
        response = requests.post(f"{self.url}/api/v1/auth/login", json=body, timeout=60)
        assert response.status_code == 200, response.text
        return response.json()["token"]


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def build_world(url: str, env: dict[str, str]) -> World:
    world = World(url, env)
    world.tokens["anonymous"] = None
    for persona in PERSONAS[1:]:
        if persona.endswith("organiser"):
            subprocess.run(
                [
                    str(VENV_BIN / "flask"),
                    "--app",
                    "services.gateway",
                    "create-organiser",
                    f"{persona}@example.org",
                    "--password",
                    PASSWORD,
                ],
                cwd=ROOT,
                env=env,
                check=True,
                capture_output=True,
            )
        else:
            role = "author" if "author" in persona else "attendee"
            body = {
                "email": f"{persona}@example.org",
                "password": PASSWORD,
                "display_name": persona.title(),
                "organisation": f"Org {persona}",
                "region": "North",
                "role": role,
            }
            response = requests.post(f"{url}/api/v1/auth/register", json=body, timeout=60)
            assert response.status_code in (201, 202), response.text
        world.tokens[persona] = world.login(persona)
        world.user_ids[persona] = world.ok(persona, "GET", "/api/v1/me")["id"]

    day = (datetime.now(UTC) + timedelta(days=20)).replace(hour=8, minute=0, second=0, microsecond=0)
    ids = world.ids
    ids["day_start"] = day

    def new_day(persona: str, title: str) -> int:
        body = {"title": title, "starts_at": _iso(day), "ends_at": _iso(day + timedelta(hours=10)), "timezone": "UTC"}
        return world.ok(persona, "POST", "/api/v1/events", json=body)["id"]

    ids["event"] = new_day("organiser", "The day")
    ids["other_event"] = new_day("other_organiser", "Another day")
    event = ids["event"]
    world.ok("organiser", "PUT", f"/api/v1/events/{event}/thesaurus", json={"themes": ["privacy", "linkage"]})

    def slot(hour: float, kind: str, minutes: int = 30) -> int:
        start = day + timedelta(hours=hour)
        body = {"starts_at": _iso(start), "ends_at": _iso(start + timedelta(minutes=minutes)), "kind": kind}
        return world.ok("organiser", "POST", f"/api/v1/events/{event}/slots", json=body)["id"]

    ids["slot"] = slot(1, "breakout")
    ids["coffee_slot"] = slot(2, "coffee")
    ids["spare_slot"] = slot(3, "breakout")
    body = {"slot_id": ids["slot"], "title": "Privacy table", "theme": "privacy", "capacity": 10}
    ids["breakout"] = world.ok("organiser", "POST", f"/api/v1/events/{event}/breakouts", json=body)["id"]
    body = {**body, "title": "Spare table"}
    ids["spare_breakout"] = world.ok("organiser", "POST", f"/api/v1/events/{event}/breakouts", json=body)["id"]
    for persona in ("attendee", "other_attendee", "author", "other_author"):
        world.ok(persona, "PUT", f"/api/v1/events/{event}/registration", json={"themes": ["privacy"]})

    project = {
        "title": "Linking records safely",
        "summary": "How we linked data.",
        "themes": ["privacy"],
        "learnings": ["one", "two", "three"],
        "questions": ["Who else?"],
    }

    def new_project(persona: str) -> int:
        # posters learns about the day by event: retry briefly until it has.
        def attempt() -> Any:
            response = world.call(persona, "POST", f"/api/v1/events/{event}/projects", json=project)
            return response.json()["id"] if response.status_code == 201 else None

        return int(wait_until(attempt, timeout=60, what="posters knowing the day"))  # type: ignore[arg-type]

    ids["project"] = new_project("author")
    ids["spare_project"] = new_project("author")
    ids["other_project"] = new_project("other_author")

    def upload(project_id: int) -> int:
        files = {"file": ("poster.png", PNG, "image/png")}
        return world.ok("author", "POST", f"/api/v1/projects/{project_id}/posters", files=files)["id"]

    ids["poster"] = upload(ids["project"])
    ids["spare_poster"] = upload(ids["project"])
    question = {"text": "How did you get consent?"}
    questions = f"/api/v1/projects/{ids['project']}/questions"
    ids["question"] = world.ok("attendee", "POST", questions, json=question)["id"]
    ids["spare_question"] = world.ok("attendee", "POST", questions, json={"text": "And the costs?"})["id"]

    # matching learns about projects by event: the author's chat slots open once it has.
    def chat_slot(hour: float) -> int:
        body = {"starts_at": _iso(day + timedelta(hours=hour)), "minutes": 15}

        def attempt() -> Any:
            response = world.call("author", "POST", f"/api/v1/projects/{ids['project']}/chat-slots", json=body)
            return response.json()["id"] if response.status_code == 201 else None

        return int(wait_until(attempt, timeout=60, what="matching knowing the project"))  # type: ignore[arg-type]

    ids["new_chat_slot_at"] = _iso(day + timedelta(hours=7))  # for the matrix's "open a chat slot" call
    ids["chat_slot"] = chat_slot(4)
    ids["spare_chat_slot"] = chat_slot(5)
    ids["free_chat_slot"] = chat_slot(6)
    booked = world.ok("attendee", "POST", f"/api/v1/chat-slots/{ids['chat_slot']}/booking")
    ids["room"] = booked["room_id"]
    world.ok("attendee", "POST", f"/api/v1/chat-slots/{ids['spare_chat_slot']}/booking")
    author_id = world.user_ids["author"]
    message = {"message": "Shall we talk about linkage?"}
    ids["contact_request"] = world.ok(
        "attendee", "POST", f"/api/v1/events/{event}/people/{author_id}/contact-requests", json=message
    )["id"]
    ids["coffee_round"] = world.ok(
        "organiser", "POST", f"/api/v1/events/{event}/coffee-rounds", json={"slot_id": ids["coffee_slot"]}
    )["id"]
    ids["assignment_run"] = world.ok("organiser", "POST", f"/api/v1/events/{event}/assignment-runs", json={})["id"]
    ids["timetable_run"] = world.ok("organiser", "POST", f"/api/v1/events/{event}/timetable-runs", json={})["id"]

    # The chat room reaches the gateway by event (ChatSlotBooked): wait until the booker sees it.
    wait_until(
        lambda: world.call("attendee", "GET", f"/api/v1/chat-rooms/{ids['room']}").status_code == 200,
        timeout=60,
        what="the chat room",
    )
    action = {"text": "Send the linkage paper"}
    ids["action"] = world.ok("attendee", "POST", f"/api/v1/chat-rooms/{ids['room']}/actions", json=action)["id"]

    def welcome() -> Any:
        items = world.ok("attendee", "GET", "/api/v1/me/notifications")["items"]
        return items[0]["id"] if items else None

    ids["notification"] = wait_until(welcome, timeout=60, what="the attendee's welcome notification")
    return world
