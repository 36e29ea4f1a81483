"""Coffee rounds in the matching service: the organiser opens a round (a coffee slot's time or a time of their
own), attendees registered for the day opt in, the organiser pairs them (one trio for an odd number; other
organisations and people not met before first; never a pair twice in a day), each accepts or declines and
decliners and their freed partners are rematched. Every run records CoffeePaired in the outbox. Bad input gets a
4xx naming the field and changes nothing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import combinations
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from services.matching.adapters.orm import Outbox
from services.matching.chat_slots.models import ChatBooking, ChatSlot
from services.matching.coffee.models import CoffeeGroup, CoffeeMember, CoffeeOptIn, CoffeeRound
from shared.events import Envelope

pytestmark = pytest.mark.integration

ORGANISER = 1
DAY = {
    "title": "Coffee day",
    "starts_at": "2030-06-03T08:00:00+00:00",
    "ends_at": "2030-06-03T17:00:00+00:00",
    "timezone": "Europe/London",
}
ROUND = {"starts_at": "2030-06-03T10:00:00+00:00", "minutes": 15, "min_cross_org_share": 0.5}


@dataclass
class Clock:
    now: datetime = datetime(2030, 6, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def app(make_app, clock: Clock) -> Flask:  # type: ignore[no-untyped-def]
    return make_app("matching", COFFEE_CLOCK=clock)


@pytest.fixture
def organiser(app: Flask, as_user) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return as_user(app, ORGANISER, "organiser")


def _new_day(app: Flask, organiser: dict[str, str], title: str = "Coffee day") -> int:
    client = app.test_client()
    day_id = int(client.post("/api/v1/events", json={**DAY, "title": title}, headers=organiser).json["id"])
    client.put(f"/api/v1/events/{day_id}/thesaurus", json={"themes": ["privacy"]}, headers=organiser)
    return day_id


@pytest.fixture
def day(app: Flask, organiser: dict[str, str]) -> int:
    return _new_day(app, organiser)


class People:
    """Attendees registered for the day: user id -> identity header."""

    def __init__(self, app: Flask, as_user, day: int) -> None:  # type: ignore[no-untyped-def]
        self.app, self.as_user, self.day = app, as_user, day
        self.headers: dict[int, dict[str, str]] = {}

    def add(self, user_id: int, organisation: str, day: int | None = None) -> dict[str, str]:
        headers = self.as_user(self.app, user_id, "attendee", organisation=organisation)
        path = f"/api/v1/events/{day or self.day}/registration"
        assert self.app.test_client().put(path, json={"themes": ["privacy"]}, headers=headers).status_code == 200
        self.headers[user_id] = headers
        return headers


@pytest.fixture
def people(app: Flask, as_user, day: int) -> People:  # type: ignore[no-untyped-def]
    return People(app, as_user, day)


def _round(app: Flask, organiser: dict[str, str], day: int, **body: Any) -> int:
    created = app.test_client().post(f"/api/v1/events/{day}/coffee-rounds", json={**ROUND, **body}, headers=organiser)
    assert created.status_code == 201, created.json
    return int(created.json["id"])


def _opt_in(app: Flask, round_id: int, people: People, *user_ids: int) -> None:
    for user_id in user_ids:
        response = app.test_client().post(f"/api/v1/coffee-rounds/{round_id}/opt-in", headers=people.headers[user_id])
        assert response.status_code == 200, response.json


def _pair(app: Flask, round_id: int, organiser: dict[str, str], **body: Any):  # type: ignore[no-untyped-def]
    return app.test_client().post(f"/api/v1/coffee-rounds/{round_id}/pair", json=body or None, headers=organiser)


def _mine(app: Flask, round_id: int, headers: dict[str, str]) -> dict[str, Any]:
    response = app.test_client().get(f"/api/v1/coffee-rounds/{round_id}", headers=headers)
    assert response.status_code == 200, response.json
    return response.json


def _partners(app: Flask, round_id: int, headers: dict[str, str]) -> list[int]:
    return [p["user_id"] for p in _mine(app, round_id, headers)["me"]["partners"]]


def _active_groups(app: Flask, round_id: int) -> list[tuple[int, ...]]:
    with app.extensions["db"].unit_of_work() as session:
        rows = session.execute(
            select(CoffeeMember.group_id, CoffeeMember.user_id).where(CoffeeMember.active_round_id == round_id)
        ).all()
    groups: dict[int, list[int]] = {}
    for group_id, user_id in rows:
        groups.setdefault(group_id, []).append(user_id)
    return sorted(tuple(sorted(g)) for g in groups.values())


def _paired_events(app: Flask) -> list[dict[str, Any]]:
    with app.extensions["db"].unit_of_work() as session:
        rows = session.scalars(select(Outbox).where(Outbox.type == "CoffeePaired").order_by(Outbox.id)).all()
        return [Envelope.from_json(r.body).payload for r in rows]


def _counts(app: Flask) -> tuple[int, ...]:
    with app.extensions["db"].unit_of_work() as session:
        return tuple(
            int(session.scalar(select(func.count()).select_from(m)) or 0)
            for m in (CoffeeRound, CoffeeOptIn, CoffeeGroup, CoffeeMember)
        ) + (len(_paired_events(app)),)


def _pairs(groups: list[tuple[int, ...]]) -> set[tuple[int, int]]:
    return {p for g in groups for p in combinations(sorted(g), 2)}


# --- the whole flow ---------------------------------------------------------------------------------------------
def test_opt_in_pair_and_everyone_sees_their_partners(app, organiser, day, people) -> None:  # type: ignore[no-untyped-def]
    for user_id, org in ((10, "Org A"), (11, "Org A"), (12, "Org B"), (13, "Org C"), (14, "Org B")):
        people.add(user_id, org)
    round_id = _round(app, organiser, day)
    _opt_in(app, round_id, people, 10, 11, 12, 13, 14)
    before = _mine(app, round_id, people.headers[10])
    assert before["me"] == {
        "opted_in": True,
        "state": "waiting",
        "response": None,
        "partner_left": False,
        "partners": [],
    }

    paired = _pair(app, round_id, organiser)
    assert paired.status_code == 200, paired.json
    run = paired.json["run"]
    assert (run["groups"], run["trios"], run["unpaired"], run["shortfall"]) == (2, 1, 0, None)
    assert run["cross_org_groups"] == 2 and run["cross_org_share"] == 1.0  # 2 from Org A: each with someone else

    groups = _active_groups(app, round_id)
    assert sorted(len(g) for g in groups) == [2, 3] and sorted(u for g in groups for u in g) == [10, 11, 12, 13, 14]
    assert not any({10, 11} <= set(g) for g in groups)  # the two from Org A are not put together
    for group in groups:
        for user_id in group:
            mine = _mine(app, round_id, people.headers[user_id])
            assert mine["me"]["state"] == "paired" and mine["me"]["response"] == "pending"
            assert sorted(_partners(app, round_id, people.headers[user_id])) == sorted(set(group) - {user_id})
            assert all(p["display_name"] == f"User {p['user_id']}" for p in mine["me"]["partners"])
            assert "@" not in str(mine)  # a partner's address is never shown
    events = _paired_events(app)
    assert len(events) == 1 and events[0]["round_id"] == round_id and events[0]["event_id"] == day
    assert events[0]["rematch"] is False
    assert sorted(tuple(g["user_ids"]) for g in events[0]["groups"]) == groups
    assert {(g["starts_at"], g["ends_at"]) for g in events[0]["groups"]} == {
        ("2030-06-03T10:00:00+00:00", "2030-06-03T10:15:00+00:00")
    }
    summary = _mine(app, round_id, organiser)["summary"]
    assert summary == {
        "opted_in": 5,
        "waiting": 0,
        "groups": 2,
        "cross_org_groups": 2,
        "cross_org_share": 1.0,
        "min_cross_org_share": 0.5,
        "shortfall": None,
    }
    assert "summary" not in _mine(app, round_id, people.headers[10])  # the numbers are the organisers'


def test_a_round_can_take_a_coffee_slots_time(app, organiser, day) -> None:  # type: ignore[no-untyped-def]
    client = app.test_client()
    slot = client.post(
        f"/api/v1/events/{day}/slots",
        json={"starts_at": "2030-06-03T11:00:00+00:00", "ends_at": "2030-06-03T11:20:00+00:00", "kind": "coffee"},
        headers=organiser,
    )
    assert slot.status_code == 201, slot.json
    created = client.post(
        f"/api/v1/events/{day}/coffee-rounds",
        json={"slot_id": slot.json["id"], "min_cross_org_share": 1},
        headers=organiser,
    )
    assert created.status_code == 201, created.json
    assert (created.json["starts_at"], created.json["ends_at"], created.json["minutes"]) == (
        "2030-06-03T11:00:00+00:00",
        "2030-06-03T11:20:00+00:00",
        20,
    )
    listed = client.get(f"/api/v1/events/{day}/coffee-rounds", headers=organiser).json
    assert [r["id"] for r in listed["items"]] == [created.json["id"]]
    assert [s["id"] for s in listed["coffee_slots"]] == [slot.json["id"]]


def test_decline_frees_the_partner_and_both_are_rematched_never_with_each_other(app, organiser, day, people) -> None:  # type: ignore[no-untyped-def]
    for user_id, org in ((10, "A"), (11, "B"), (12, "C"), (13, "D")):
        people.add(user_id, org)
    round_id = _round(app, organiser, day)
    _opt_in(app, round_id, people, 10, 11, 12, 13)
    assert _pair(app, round_id, organiser).status_code == 200
    (a, b), (c, d) = _active_groups(app, round_id)
    client = app.test_client()

    accepted = client.post(f"/api/v1/coffee-rounds/{round_id}/accept", headers=people.headers[a])
    assert accepted.json["me"]["response"] == "accepted"
    assert _mine(app, round_id, people.headers[b])["me"]["partners"][0]["response"] == "accepted"

    # c declines: c and d are free, but may not meet each other again today: both wait
    declined = client.post(f"/api/v1/coffee-rounds/{round_id}/decline", headers=people.headers[c])
    assert declined.status_code == 200 and declined.json["me"]["state"] == "waiting"
    assert declined.json["me"]["partner_left"] is False
    freed = _mine(app, round_id, people.headers[d])["me"]
    assert (freed["state"], freed["partner_left"], freed["partners"]) == ("waiting", True, [])
    assert _active_groups(app, round_id) == [(a, b)]

    # b declines too: a and b join c and d waiting; the rematch makes new pairs only
    client.post(f"/api/v1/coffee-rounds/{round_id}/decline", json={"rematch": True}, headers=people.headers[b])
    regrouped = _active_groups(app, round_id)
    assert len(regrouped) == 2 and sorted(u for g in regrouped for u in g) == sorted([a, b, c, d])
    assert not _pairs(regrouped) & {(a, b), (c, d)}
    events = _paired_events(app)
    assert [e["rematch"] for e in events] == [False, True]
    assert sorted(tuple(g["user_ids"]) for g in events[1]["groups"]) == regrouped
    assert _mine(app, round_id, people.headers[d])["me"]["state"] == "paired"

    # leaving for good: decline without a rematch takes the person out of the round
    gone = client.post(f"/api/v1/coffee-rounds/{round_id}/decline", json={"rematch": False}, headers=people.headers[a])
    assert gone.json["me"]["state"] == "not_opted_in"


def test_in_a_trio_one_declining_leaves_a_pair(app, organiser, day, people) -> None:  # type: ignore[no-untyped-def]
    for user_id, org in ((10, "A"), (11, "B"), (12, "C")):
        people.add(user_id, org)
    round_id = _round(app, organiser, day)
    _opt_in(app, round_id, people, 10, 11, 12)
    assert _pair(app, round_id, organiser).json["run"]["trios"] == 1
    app.test_client().post(f"/api/v1/coffee-rounds/{round_id}/decline", headers=people.headers[12])
    assert _active_groups(app, round_id) == [(10, 11)]
    assert _mine(app, round_id, people.headers[12])["me"]["state"] == "waiting"


def test_late_opt_ins_are_paired_with_whoever_waits(app, organiser, day, people) -> None:  # type: ignore[no-untyped-def]
    for user_id, org in ((10, "A"), (11, "B"), (12, "C"), (13, "D")):
        people.add(user_id, org)
    round_id = _round(app, organiser, day)
    _opt_in(app, round_id, people, 10, 11)
    assert _pair(app, round_id, organiser).status_code == 200
    _opt_in(app, round_id, people, 12)
    assert _mine(app, round_id, people.headers[12])["me"]["state"] == "waiting"
    _opt_in(app, round_id, people, 13)
    assert _partners(app, round_id, people.headers[12]) == [13]
    assert [e["rematch"] for e in _paired_events(app)] == [False, True]
    # opting out frees the partner
    assert (
        app.test_client().delete(f"/api/v1/coffee-rounds/{round_id}/opt-in", headers=people.headers[13]).status_code
        == 204
    )
    assert _mine(app, round_id, people.headers[12])["me"]["state"] == "waiting"


def test_no_pair_is_repeated_within_a_day_over_several_rounds(app, organiser, day, people) -> None:  # type: ignore[no-untyped-def]
    members = (10, 11, 12, 13)
    for user_id, org in zip(members, ("A", "A", "B", "B"), strict=True):
        people.add(user_id, org)
    seen: set[tuple[int, int]] = set()
    for hour in (9, 10, 11):  # K4 has exactly three perfect matchings: three rounds use every pair once
        round_id = _round(app, organiser, day, starts_at=f"2030-06-03T{hour:02d}:00:00+00:00", min_cross_org_share=0)
        _opt_in(app, round_id, people, *members)
        assert _pair(app, round_id, organiser).status_code == 200
        pairs = _pairs(_active_groups(app, round_id))
        assert not pairs & seen
        seen |= pairs
    assert seen == set(combinations(members, 2))
    last = _round(app, organiser, day, starts_at="2030-06-03T12:00:00+00:00", min_cross_org_share=0)
    _opt_in(app, last, people, *members)
    before = _counts(app)
    refused = _pair(app, last, organiser)
    assert refused.status_code == 409 and refused.json["error"]["code"] == "no_new_pairs"
    assert _counts(app) == before
    # another day is a fresh start
    other = _new_day(app, organiser, "Second coffee day")
    for user_id in members:
        people.add(user_id, "A" if user_id < 12 else "B", day=other)
    round_id = _round(app, organiser, other)
    _opt_in(app, round_id, people, *members)
    assert _pair(app, round_id, organiser).json["run"]["groups"] == 2


def test_people_who_met_in_a_chat_are_not_paired_when_others_are_free(app, organiser, day, people) -> None:  # type: ignore[no-untyped-def]
    for user_id in (10, 11, 12, 13):
        people.add(user_id, f"Org {user_id}")
    with app.extensions["db"].unit_of_work() as session:  # 10 chatted with 11, and 12 with 13
        for author, attendee in ((10, 11), (12, 13)):
            slot = ChatSlot(
                project_id=1,
                event_id=day,
                author_id=author,
                starts_at=datetime(2030, 6, 3, 9, tzinfo=UTC),
                ends_at=datetime(2030, 6, 3, 9, 15, tzinfo=UTC),
                minutes=15,
                quota_seat=1,
            )
            session.add(slot)
            session.flush()
            session.add(
                ChatBooking(slot_id=slot.id, active_slot_id=slot.id, attendee_id=attendee, room_id=f"r{author}")
            )
    for seed in range(5):
        round_id = _round(app, organiser, day, starts_at=f"2030-06-03T1{seed}:00:00+00:00")
        _opt_in(app, round_id, people, 10, 11, 12, 13)
        assert _pair(app, round_id, organiser, seed=seed).status_code == 200
        assert not _pairs(_active_groups(app, round_id)) & {(10, 11), (12, 13)}
        if seed == 1:
            break  # after two rounds the only pairs left today are the two that met: fine, they are all new too


def test_an_unreachable_minimum_share_is_explained_and_nothing_is_paired(app, organiser, day, people) -> None:  # type: ignore[no-untyped-def]
    for user_id, org in ((10, "NHS Trust"), (11, "nhs  trust"), (12, "NHS Trust"), (13, "University")):
        people.add(user_id, org)
    round_id = _round(app, organiser, day, min_cross_org_share=0.75)
    _opt_in(app, round_id, people, 10, 11, 12, 13)
    before = _counts(app)
    refused = _pair(app, round_id, organiser)
    assert refused.status_code == 409
    error = refused.json["error"]
    assert (error["code"], error["field"]) == ("min_share_unreachable", "min_cross_org_share")
    assert error["message"] == (
        "The minimum share of cross-organisation pairs is 75% (2 of 2 pairs), but at most 1 of the 2 pairs (50%) "
        "can be across organisations: 3 of the 4 people who opted in are from the same organisation."
    )
    assert _counts(app) == before and _mine(app, round_id, organiser)["status"] == "open"

    anyway = _pair(app, round_id, organiser, accept_lower_share=True)
    assert anyway.status_code == 200
    assert (anyway.json["run"]["cross_org_groups"], anyway.json["run"]["cross_org_share"]) == (1, 0.5)
    summary = anyway.json["round"]["summary"]
    assert summary["cross_org_share"] == 0.5 and "at most 1 of the 2 pairs (50%)" in summary["shortfall"]


def test_people_who_had_coffee_on_another_day_meet_someone_new(app, organiser, day, people) -> None:  # type: ignore[no-untyped-def]
    members = list(range(10, 22))
    for user_id in members:
        people.add(user_id, f"Org {user_id % 4}")
    other = _new_day(app, organiser, "Second day")
    for user_id in members:
        people.add(user_id, f"Org {user_id % 4}", day=other)
    results = []
    for day_id in (day, other):
        round_id = _round(app, organiser, day_id)
        _opt_in(app, round_id, people, *members)
        assert _pair(app, round_id, organiser, seed=42).status_code == 200
        results.append(_pairs(_active_groups(app, round_id)))
    assert len(results[1]) == 6 and not results[0] & results[1]


# --- bad input and refusals: nothing changes ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"minutes": 3}, "minutes"),
        ({"minutes": 121}, "minutes"),
        ({"minutes": "15"}, "minutes"),
        ({"minutes": 15.5}, "minutes"),
        ({"starts_at": "2030-06-03T10:00:00"}, "starts_at"),  # no timezone
        ({"starts_at": "tomorrow"}, "starts_at"),
        ({"starts_at": "2030-06-03T16:50:00+00:00"}, "starts_at"),  # ends after the day
        ({"starts_at": "2030-06-03T07:00:00+00:00"}, "starts_at"),  # before the day
        ({"min_cross_org_share": 1.5}, "min_cross_org_share"),
        ({"min_cross_org_share": -0.1}, "min_cross_org_share"),
        ({"min_cross_org_share": "0.5"}, "min_cross_org_share"),
        ({"min_cross_org_share": True}, "min_cross_org_share"),
        ({"slot_id": 1}, "slot_id"),  # together with a time
        ({"room": "blue"}, "room"),
        ({"minutes": None, "starts_at": None}, "starts_at"),
        ({"starts_at": None}, "starts_at"),
        ({"minutes": None}, "minutes"),
    ],
)
def test_bad_rounds_name_the_field_and_create_nothing(app, organiser, day, body, field) -> None:  # type: ignore[no-untyped-def]
    payload = {k: v for k, v in {**ROUND, **body}.items() if v is not None}
    response = app.test_client().post(f"/api/v1/events/{day}/coffee-rounds", json=payload, headers=organiser)
    assert response.status_code == 400, response.json
    assert response.json["error"]["field"] == field and response.json["error"]["message"]
    assert _counts(app) == (0, 0, 0, 0, 0)


def test_rounds_refuse_bad_slots_the_past_strangers_and_unknown_days(app, organiser, day, clock, as_user) -> None:  # type: ignore[no-untyped-def]
    client = app.test_client()
    breakout = client.post(
        f"/api/v1/events/{day}/slots",
        json={"starts_at": "2030-06-03T13:00:00+00:00", "ends_at": "2030-06-03T14:00:00+00:00", "kind": "breakout"},
        headers=organiser,
    ).json["id"]
    other_day = _new_day(app, organiser, "Other day")
    foreign = client.post(
        f"/api/v1/events/{other_day}/slots",
        json={"starts_at": "2030-06-03T13:00:00+00:00", "ends_at": "2030-06-03T13:30:00+00:00", "kind": "coffee"},
        headers=organiser,
    ).json["id"]
    path = f"/api/v1/events/{day}/coffee-rounds"
    for slot_id in (breakout, foreign, 999):
        response = client.post(path, json={"slot_id": slot_id}, headers=organiser)
        assert response.status_code == 400 and response.json["error"]["field"] == "slot_id", response.json
    clock.now = datetime(2030, 6, 3, 10, 30, tzinfo=UTC)
    past = client.post(path, json=ROUND, headers=organiser)
    assert past.status_code == 400 and past.json["error"]["message"] == "must be in the future"
    attendee = client.post(path, json=ROUND, headers=as_user(app, 10))
    assert attendee.status_code == 403
    assert client.post("/api/v1/events/999/coffee-rounds", json=ROUND, headers=organiser).status_code == 404
    assert _counts(app) == (0, 0, 0, 0, 0)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"seed": -1}, "seed"),
        ({"seed": "7"}, "seed"),
        ({"seed": 2**31}, "seed"),
        ({"accept_lower_share": "yes"}, "accept_lower_share"),
        ({"everyone": True}, "everyone"),
    ],
)
def test_bad_pairing_requests_name_the_field_and_pair_nobody(app, organiser, day, people, body, field) -> None:  # type: ignore[no-untyped-def]
    people.add(10, "A")
    people.add(11, "B")
    round_id = _round(app, organiser, day)
    _opt_in(app, round_id, people, 10, 11)
    before = _counts(app)
    response = _pair(app, round_id, organiser, **body)
    assert response.status_code == 400 and response.json["error"]["field"] == field
    assert _counts(app) == before


def test_bad_decline_body_is_refused(app, organiser, day, people) -> None:  # type: ignore[no-untyped-def]
    people.add(10, "A")
    people.add(11, "B")
    round_id = _round(app, organiser, day)
    _opt_in(app, round_id, people, 10, 11)
    _pair(app, round_id, organiser)
    before = _counts(app)
    for body, field in (({"rematch": "no"}, "rematch"), ({"reason": "busy"}, "reason")):
        response = app.test_client().post(
            f"/api/v1/coffee-rounds/{round_id}/decline", json=body, headers=people.headers[10]
        )
        assert response.status_code == 400 and response.json["error"]["field"] == field
    assert _counts(app) == before and _partners(app, round_id, people.headers[10]) == [11]


def test_refusals_of_taking_part(app, organiser, day, people, clock, as_user) -> None:  # type: ignore[no-untyped-def]
    people.add(10, "A")
    round_id = _round(app, organiser, day)
    client = app.test_client()
    before = _counts(app)
    stranger = client.post(f"/api/v1/coffee-rounds/{round_id}/opt-in", headers=as_user(app, 50))
    assert stranger.status_code == 403 and stranger.json["error"]["code"] == "not_registered"
    assert client.post("/api/v1/coffee-rounds/999/opt-in", headers=people.headers[10]).status_code == 404
    assert client.get("/api/v1/coffee-rounds/999", headers=people.headers[10]).status_code == 404
    assert client.delete(f"/api/v1/coffee-rounds/{round_id}/opt-in", headers=people.headers[10]).status_code == 404
    for action in ("accept", "decline"):
        response = client.post(f"/api/v1/coffee-rounds/{round_id}/{action}", headers=people.headers[10])
        assert response.status_code == 409 and response.json["error"]["code"] == "not_paired"
    _opt_in(app, round_id, people, 10)
    before = _counts(app)
    too_few = _pair(app, round_id, organiser)
    assert too_few.status_code == 409 and too_few.json["error"]["code"] == "too_few"
    assert _pair(app, round_id, people.headers[10]).status_code == 403  # attendees do not run pairings
    clock.now = datetime(2030, 6, 3, 10, 0, tzinfo=UTC)  # the round starts
    late = client.post(f"/api/v1/coffee-rounds/{round_id}/opt-in", headers=people.add(11, "B"))
    assert late.status_code == 409 and late.json["error"]["code"] == "started"
    assert _pair(app, round_id, organiser).json["error"]["code"] == "started"
    assert _counts(app) == before
