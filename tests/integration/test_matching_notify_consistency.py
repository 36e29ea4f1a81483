"""Matching and notify stay consistent when people leave what they were given: a coffee declined (or a group
dissolved by it) and a person left out of a re-publication of the breakout assignment.

Matching runs in this process (its API through the test client, the real solver); what it records in its outbox is
handed to notify's own handlers in outbox order (what the bus does, minus the stream); notify's real Celery worker
mails a real SMTP server (aiosmtpd) and the reminders' use cases run against notify's database, at a chosen `now`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from icalendar import Calendar
from sqlalchemy import select

from services.matching.adapters.orm import Outbox
from services.matching.assignment import service as assignment_service
from services.notify.calendar.models import CalendarEntry
from services.notify.reminders import service as reminders
from services.notify.reminders.models import PENDING, SENT, VOID, Reminder
from shared.db import migrate
from shared.events import Envelope
from tests.conftest import identity_headers
from tests.support.mail_sink import Received
from tests.support.notify_stack import NotifyStack, notify_stack, registered
from tests.support.processes import RedisServer

pytestmark = pytest.mark.integration

ORGANISER = 1
DAY_START = datetime.now(UTC).replace(microsecond=0, second=0, minute=0) + timedelta(days=30)
THEMES = ["data linkage", "consent"]
ORGS = ["North Trust", "South Trust", "East Uni"]
SETTINGS_URL = "http://127.0.0.1:8000/preferences"


@dataclass
class World:
    matching: Flask
    notify: NotifyStack
    event_id: int
    organiser: dict[str, str]
    delivered: set[int] = field(default_factory=set)  # matching outbox ids handed to notify

    def headers(self, user_id: int) -> dict[str, str]:
        return identity_headers(self.matching, user_id, "attendee", organisation=ORGS[user_id % 3])

    def outbox(self, event_type: str) -> list[tuple[int, dict[str, Any]]]:
        with self.matching.extensions["db"].unit_of_work() as session:
            rows = session.execute(select(Outbox.id, Outbox.body).where(Outbox.type == event_type).order_by(Outbox.id))
            return [(row_id, Envelope.from_json(body).payload) for row_id, body in rows]

    def relay(self) -> int:
        """Hand matching's new outbox events that notify consumes to notify's handlers, in order."""
        with self.matching.extensions["db"].unit_of_work() as session:
            rows = session.execute(select(Outbox.id, Outbox.type, Outbox.body).order_by(Outbox.id)).all()
        handled = 0
        for row_id, event_type, body in rows:
            if row_id in self.delivered:
                continue
            self.delivered.add(row_id)
            if event_type in self.notify._handlers:
                self.notify.deliver(Envelope.from_json(body))
                handled += 1
        return handled

    def redeliver(self, event_type: str) -> None:
        with self.matching.extensions["db"].unit_of_work() as session:
            for body in session.scalars(select(Outbox.body).where(Outbox.type == event_type)):
                self.notify.deliver(Envelope.from_json(body))

    def entries(self, kind: str) -> dict[tuple[int, str], CalendarEntry]:
        with self.notify.db.unit_of_work() as session:
            rows = session.scalars(select(CalendarEntry).where(CalendarEntry.kind == kind))
            return {(e.user_id, e.subject_id): e for e in rows}


@pytest.fixture(scope="module")
def world(redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with notify_stack(redis_server, tmp_path_factory.mktemp("consistency")) as stack:
        with pytest.MonkeyPatch.context() as mp:
            mp.delenv("MATCHING_DATABASE_URL", raising=False)
            from services.matching import create_app

            matching = create_app()
            migrate("matching", matching.config["DATABASE_URL"])
            client = matching.test_client()
            organiser = identity_headers(matching, ORGANISER, "organiser")
            created = client.post(
                "/api/v1/events",
                json={
                    "title": "Consistency day",
                    "starts_at": DAY_START.isoformat(),
                    "ends_at": (DAY_START + timedelta(hours=8)).isoformat(),
                    "timezone": "Europe/London",
                },
                headers=organiser,
            )
            assert created.status_code == 201, created.get_json()
            event_id = int(created.get_json()["id"])
            thesaurus = client.put(f"/api/v1/events/{event_id}/thesaurus", json={"themes": THEMES}, headers=organiser)
            assert thesaurus.status_code == 200
            world = World(matching, stack, event_id, organiser)
            try:
                yield world
            finally:
                matching.extensions["db"].dispose()


def register(world: World, *user_ids: int) -> None:
    client = world.matching.test_client()
    for user_id in user_ids:
        world.notify.deliver(registered(user_id, f"Person {user_id}"))
        ranking = [THEMES[user_id % 2], THEMES[(user_id + 1) % 2]]
        path = f"/api/v1/events/{world.event_id}/registration"
        response = client.put(
            path, json={"themes": ranking, "tools": [], "interests": []}, headers=world.headers(user_id)
        )
        assert response.status_code in (200, 201), response.get_json()


def invite_of(mail: Received) -> Calendar:
    parts = [p for p in mail.message.walk() if p.get_content_type() == "text/calendar"]
    assert len(parts) == 1, "one .ics attachment"
    return Calendar.from_ical(parts[0].get_payload(decode=True))


def plain(mail: Received) -> str:
    body = mail.message.get_body(preferencelist=("plain",))
    assert body is not None
    return body.get_content()


def reminder_rows(world: World) -> list[Reminder]:
    with world.notify.db.unit_of_work() as session:
        return list(session.scalars(select(Reminder).order_by(Reminder.id)))


def scan(world: World, now: datetime) -> list[int]:
    """What notify's beat task does at `now`: void the stale, send the pending."""
    db = world.notify.db
    reminders.materialise_due(db, now)
    reminders.void_stale(db)
    return reminders.send_batch(db, reminders.pending_ids(db), now, SETTINGS_URL)


def reminded(world: World) -> set[int]:
    """Who has been sent a reminder (a reminder notification exists for them)."""
    users = {r.user_id for r in reminder_rows(world)}
    return {u for u in users if any(n.kind == "reminder" for n in world.notify.notifications(u))}


def test_a_declined_coffee_is_cancelled_in_notify_and_its_reminders_never_fire(world: World) -> None:
    people = [120, 121, 122, 123, 124]  # five: one pair and one trio
    register(world, *people)
    client = world.matching.test_client()
    starts = DAY_START + timedelta(hours=3)
    created = client.post(
        f"/api/v1/events/{world.event_id}/coffee-rounds",
        json={"starts_at": starts.isoformat(), "minutes": 15, "min_cross_org_share": 0},
        headers=world.organiser,
    )
    assert created.status_code == 201, created.get_json()
    round_id = int(created.get_json()["id"])
    for user_id in people:
        assert (
            client.post(f"/api/v1/coffee-rounds/{round_id}/opt-in", headers=world.headers(user_id)).status_code == 200
        )
    paired = client.post(f"/api/v1/coffee-rounds/{round_id}/pair", json={"seed": 1}, headers=world.organiser)
    assert paired.status_code == 200, paired.get_json()
    world.relay()
    groups = {int(g["group_id"]): sorted(g["user_ids"]) for _, p in world.outbox("CoffeePaired") for g in p["groups"]}
    pair_id = next(g for g, ids in groups.items() if len(ids) == 2)
    trio_id = next(g for g, ids in groups.items() if len(ids) == 3)
    decliner, freed = groups[pair_id]
    leaver, *staying = groups[trio_id]
    for user_id in people:  # 1 welcome + the pairing each
        mails = world.notify.wait_for_mails(f"user{user_id}@example.org", 2)
        assert any(str(m.message["Subject"]).startswith("Coffee with") for m in mails)

    # A day before the coffee its reminders fall due: materialised, not sent yet.
    day_before = starts - timedelta(days=1) + timedelta(seconds=20)
    reminders.materialise_due(world.notify.db, day_before)
    assert sorted(r.user_id for r in reminder_rows(world) if r.status == PENDING) == people

    # A refused decline (not paired) writes no event; the two real ones write one each, with the change.
    stranger = client.post(f"/api/v1/coffee-rounds/{round_id}/decline", json={}, headers=world.headers(501))
    assert stranger.status_code == 409 and stranger.get_json()["error"]["code"] == "not_paired"
    assert world.outbox("CoffeeGroupChanged") == []
    declined = client.post(
        f"/api/v1/coffee-rounds/{round_id}/decline", json={"rematch": True}, headers=world.headers(decliner)
    )
    assert declined.status_code == 200, declined.get_json()
    left = client.post(
        f"/api/v1/coffee-rounds/{round_id}/decline", json={"rematch": False}, headers=world.headers(leaver)
    )
    assert left.status_code == 200, left.get_json()
    changes = [payload for _, payload in world.outbox("CoffeeGroupChanged")]
    assert [(c["group_id"], sorted(c["user_ids"]), c["dissolved"], c["reason"], c["by_user_id"]) for c in changes] == [
        (pair_id, sorted([decliner, freed]), True, "declined", decliner),
        (trio_id, [leaver], False, "left_round", leaver),
    ]
    assert sorted(changes[1]["remaining_user_ids"]) == staying
    assert changes[0]["starts_at"] == starts.isoformat()

    world.relay()
    world.redeliver("CoffeeGroupChanged")  # a second copy changes nothing
    entries = world.entries("coffee")
    for user_id, group_id in ((decliner, pair_id), (freed, pair_id), (leaver, trio_id)):
        assert (entries[(user_id, str(group_id))].status, entries[(user_id, str(group_id))].sequence) == (
            "cancelled",
            1,
        )
    for user_id in staying:
        entry = entries[(user_id, str(trio_id))]
        assert entry.status == "active" and leaver not in entry.with_users() and len(entry.with_users()) == 1
        assert f"Person {leaver}" not in entry.title

    # Each person who left gets one CANCEL mail (same UID, SEQUENCE 1) at the SMTP sink, and one in-app.
    for user_id, group_id, other in ((decliner, pair_id, freed), (freed, pair_id, decliner), (leaver, trio_id, None)):
        mails = world.notify.wait_for_mails(f"user{user_id}@example.org", 3)
        cancel = mails[-1]
        assert cancel.message["Subject"].startswith("Coffee with") and cancel.message["Subject"].endswith("cancelled")
        cal = invite_of(cancel)
        event = cal.walk("VEVENT")[0]
        assert str(cal["METHOD"]) == "CANCEL" and str(event["STATUS"]) == "CANCELLED"
        assert str(event["UID"]) == f"coffee-{group_id}@insightdays" and int(event["SEQUENCE"]) == 1
        assert event.decoded("DTSTART") == starts and event["DTSTART"].params["TZID"] == "Europe/London"
        if other is not None:
            assert f"Person {other}" in cancel.message["Subject"]
        assert [n.kind for n in world.notify.notifications(user_id)].count("coffee_cancelled") == 1
        assert world.notify.emails(f"user{user_id}@example.org")[-1].category == "schedule"
    assert "cannot make the coffee" in plain(world.notify.sink.handler.to(f"user{freed}@example.org")[-1])
    assert "You wait for someone else" in plain(world.notify.sink.handler.to(f"user{decliner}@example.org")[-1])
    assert "You wait for someone else" not in plain(world.notify.sink.handler.to(f"user{leaver}@example.org")[-1])

    # The scan re-checks: the cancelled coffees' reminders turn void; those still meeting are reminded.
    scan(world, day_before)
    status = {r.user_id: r.status for r in reminder_rows(world)}
    assert {u: status[u] for u in (decliner, freed, leaver)} == {decliner: VOID, freed: VOID, leaver: VOID}
    assert all(status[u] == SENT for u in staying)
    assert reminded(world) == set(staying)
    scan(world, starts - timedelta(minutes=14))  # the 15-minute one: again only those still meeting
    assert reminded(world) == set(staying)
    assert all(len(world.notify.sink.handler.to(f"user{u}@example.org")) == 3 for u in (decliner, freed, leaver))


def test_a_person_left_out_of_a_republication_has_every_breakout_withdrawn_once(world: World) -> None:
    client = world.matching.test_client()
    for hour in (1, 2):
        slot = client.post(
            f"/api/v1/events/{world.event_id}/slots",
            json={
                "starts_at": (DAY_START + timedelta(hours=hour)).isoformat(),
                "ends_at": (DAY_START + timedelta(hours=hour, minutes=45)).isoformat(),
                "kind": "breakout",
            },
            headers=world.organiser,
        )
        assert slot.status_code == 201, slot.get_json()
        for theme in THEMES:
            made = client.post(
                f"/api/v1/events/{world.event_id}/breakouts",
                json={"slot_id": slot.get_json()["id"], "title": f"{theme} ({hour})", "theme": theme, "capacity": 8},
                headers=world.organiser,
            )
            assert made.status_code == 201, made.get_json()
    people = [130, 131, 132, 133]
    register(world, *people)
    gone = 133

    def run_and_publish() -> int:
        run = assignment_service.start_run(
            world.matching.extensions["db"], world.event_id, ORGANISER, assignment_service.RunOptions()
        )
        outcome = assignment_service.execute_run(
            world.matching.extensions["db"], run.id, lambda *_: None, timedelta(seconds=120)
        )
        assert outcome == "succeeded"
        path = f"/api/v1/events/{world.event_id}/assignment-runs/{run.id}/publish"
        published = client.post(path, headers=world.organiser)
        assert published.status_code == 200, published.get_json()
        return run.id

    first_run = run_and_publish()
    world.relay()
    first = [p for _, p in world.outbox("AssignmentsPublished") if p["run_id"] == first_run]
    everyone = sorted(p["user_id"] for p in first)  # everybody registered for the day (other tests' people too)
    assert set(people) <= set(everyone) and all(len(p["breakouts"]) == 2 for p in first)
    assert len(world.notify.wait_for_mails(f"user{gone}@example.org", 2)) == 2  # welcome + the schedule
    # A day before the first breakout, its reminders fall due: materialised, not sent yet.
    day_before = DAY_START + timedelta(hours=1) - timedelta(days=1) + timedelta(seconds=20)
    reminders.materialise_due(world.notify.db, day_before)
    breakout_entries = {e.id for e in world.entries("breakout").values()}
    assert {r.user_id for r in reminder_rows(world) if r.entry_id in breakout_entries} == set(everyone)

    # 133 withdraws; a new run without them is published.
    withdrawn = client.delete(f"/api/v1/events/{world.event_id}/registration", headers=world.headers(gone))
    assert withdrawn.status_code in (200, 204), withdrawn.get_json()
    second_run = run_and_publish()
    second = {p["user_id"]: p for _, p in world.outbox("AssignmentsPublished") if p["run_id"] == second_run}
    assert sorted(second) == everyone, "one event for each placed person and one for the person left out"
    assert second[gone]["breakouts"] == [] and all(len(p["breakouts"]) == 2 for u, p in second.items() if u != gone)

    world.relay()
    world.redeliver("AssignmentsPublished")  # copies of both publications again change nothing
    mine = {s: e for (u, s), e in world.entries("breakout").items() if u == gone}
    assert len(mine) == 2 and {(e.status, e.sequence) for e in mine.values()} == {("cancelled", 1)}
    active: dict[int, int] = {}
    for (user_id, _), entry in world.entries("breakout").items():
        active[user_id] = active.get(user_id, 0) + (entry.status == "active")
    assert active == {u: (0 if u == gone else 2) for u in everyone}  # everyone else keeps two (moved ones replaced)
    mail = world.notify.wait_for_mails(f"user{gone}@example.org", 3)[-1]
    assert mail.message["Subject"] == "Your breakouts for Consistency day were withdrawn"
    assert "were withdrawn" in plain(mail) and "removes them from your calendar" in plain(mail)
    cal = invite_of(mail)
    assert {str(e["UID"]): str(e["STATUS"]) for e in cal.walk("VEVENT")} == {
        f"breakout-{s}@insightdays": "CANCELLED" for s in mine
    }
    assert [n.kind for n in world.notify.notifications(gone)].count("schedule_withdrawn") == 1

    # Their breakout reminders are void; everyone still placed is reminded.
    scan(world, day_before)
    breakout_rows = [r for r in reminder_rows(world) if r.entry_id in breakout_entries]
    assert {r.status for r in breakout_rows if r.user_id == gone} == {VOID}
    assert any(r.status == SENT for r in breakout_rows if r.user_id != gone)
    assert gone not in reminded(world) and set(everyone) - {gone} <= reminded(world)
    # Still exactly one withdrawal mail: the later mails of others arrive, this person's count stays at 3.
    world.notify.deliver(registered(199))
    world.notify.wait_for_mails("user199@example.org", 1)
    assert len(world.notify.sink.handler.to(f"user{gone}@example.org")) == 3
