"""Registrations in the matching service: attendees register with 1-5 ranked themes (folded through the day's
thesaurus) until the deadline; organisers list, export and import them as CSV (all rows or none); the copy of people
comes from the gateway's UserRegistered through the real stream, applied once per event."""

from __future__ import annotations

import csv
import io

import pytest
from flask import Flask
from sqlalchemy import func, select

from services.matching.adapters.orm import Outbox
from services.matching.consumers import handlers
from services.matching.registration.models import PersonCopy, Registration
from shared.bus import Consumer, Publisher
from shared.events import Envelope, UserRegistered

pytestmark = pytest.mark.integration

DAY = {
    "title": "Health data insight day",
    "starts_at": "2026-12-01T09:00:00+00:00",
    "ends_at": "2026-12-01T17:00:00+00:00",
    "timezone": "Europe/London",
}
THEMES = [{"name": "machine learning", "synonyms": ["ML"]}, "data linkage", "mental health", "privacy", "equity", "ehr"]


@pytest.fixture
def app(make_app):  # type: ignore[no-untyped-def]
    return make_app("matching")


@pytest.fixture
def organiser(app, as_user):  # type: ignore[no-untyped-def]
    return as_user(app, 1, "organiser")


@pytest.fixture
def day(app, organiser) -> int:  # type: ignore[no-untyped-def]
    client = app.test_client()
    day_id = int(client.post("/api/v1/events", json=DAY, headers=organiser).json["id"])
    assert (
        client.put(f"/api/v1/events/{day_id}/thesaurus", json={"themes": THEMES}, headers=organiser).status_code == 200
    )
    return day_id


def _consume(app: Flask, *envelopes: Envelope) -> Consumer:
    consumer = Consumer(app.extensions["redis"], "matching", handlers(app))
    consumer.ensure_group()
    for envelope in envelopes:
        Publisher(app.extensions["redis"]).publish_raw(envelope)
    while consumer.run_once(block_ms=50):
        pass
    return consumer


def _user(user_id: int, email: str, name: str = "", organisation: str = "Org A") -> Envelope:
    return UserRegistered(
        user_id=user_id,
        email=email,
        display_name=name or f"User {user_id}",
        organisation=organisation,
        region="North",
        roles=["attendee"],
    ).envelope()


def _registrations(app) -> list[Registration]:  # type: ignore[no-untyped-def]
    with app.extensions["db"].unit_of_work() as session:
        return list(session.scalars(select(Registration).order_by(Registration.user_id)))


def _csv(*rows: str) -> bytes:
    return ("\n".join(rows) + "\n").encode()


def _import(app, headers, day: int, data: bytes, *, as_file: bool = True):  # type: ignore[no-untyped-def]
    client = app.test_client()
    path = f"/api/v1/events/{day}/registrations/import"
    if as_file:
        return client.post(path, data={"file": (io.BytesIO(data), "people.csv")}, headers=headers)
    return client.post(path, data=data, content_type="text/csv", headers=headers)


# --- an attendee's registration --------------------------------------------------------------------------------
def test_register_with_ranked_themes_folded_and_read_it_back(app, day, as_user) -> None:  # type: ignore[no-untyped-def]
    client = app.test_client()
    attendee = as_user(app, 5, "attendee")
    path = f"/api/v1/events/{day}/registration"
    assert client.get(path, headers=attendee).status_code == 404
    body = {
        "themes": ["Data  Linkage", "ml"],
        "tools": ["R", " python ", "r"],
        "interests": ["record linkage at scale"],
    }
    put = client.put(path, json=body, headers=attendee)
    assert put.status_code == 200, put.json
    assert (put.json["themes"], put.json["tools"]) == (["data linkage", "machine learning"], ["R", "python"])
    got = client.get(path, headers=attendee).json
    assert got["themes"] == ["data linkage", "machine learning"] and got["interests"] == ["record linkage at scale"]


def test_registering_again_replaces_never_duplicates(app, day, as_user) -> None:  # type: ignore[no-untyped-def]
    client = app.test_client()
    attendee = as_user(app, 5, "attendee")
    path = f"/api/v1/events/{day}/registration"
    assert client.put(path, json={"themes": ["privacy"]}, headers=attendee).status_code == 200
    second = client.put(path, json={"themes": ["equity", "privacy"], "tools": ["SQL"]}, headers=attendee)
    assert second.status_code == 200
    stored = _registrations(app)
    assert [(r.user_id, r.themes, r.tools) for r in stored] == [(5, ["equity", "privacy"], ["SQL"])]
    assert client.delete(path, headers=attendee).status_code == 204
    assert _registrations(app) == [] and client.delete(path, headers=attendee).status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"themes": ["astrology"]}, "themes"),
        ({"themes": ["privacy", "astrology", "tarot"]}, "themes"),
        ({"themes": ["other day's theme"]}, "themes"),  # in the other day's thesaurus only
        ({"themes": []}, "themes"),
        ({"themes": ["machine learning", "data linkage", "mental health", "privacy", "equity", "ehr"]}, "themes"),
        ({"themes": ["machine learning", "ML"]}, "themes"),  # the same theme twice
        ({"themes": ["privacy", " "]}, "themes.1"),
        ({"themes": "privacy"}, "themes"),
        ({"themes": ["privacy"], "tools": ["x" * 101]}, "tools"),
        ({"themes": ["privacy"], "tools": [f"tool {i}" for i in range(21)]}, "tools"),
        ({"themes": ["privacy"], "interests": ["y" * 201]}, "interests"),
        ({"themes": ["privacy"], "rank": 1}, "rank"),
        ({"tools": ["R"]}, "themes"),
    ],
)
def test_bad_registrations_name_the_field_and_write_nothing(app, organiser, day, as_user, body, field) -> None:  # type: ignore[no-untyped-def]
    client = app.test_client()
    other = client.post("/api/v1/events", json={**DAY, "title": "Other day"}, headers=organiser).json["id"]
    client.put(f"/api/v1/events/{other}/thesaurus", json={"themes": ["other day's theme"]}, headers=organiser)
    response = client.put(f"/api/v1/events/{day}/registration", json=body, headers=as_user(app, 5))
    assert response.status_code == 400 and response.json["error"]["field"] == field, response.json
    assert _registrations(app) == []


def test_a_day_without_thesaurus_or_unknown_takes_no_registration(app, organiser, as_user) -> None:  # type: ignore[no-untyped-def]
    client = app.test_client()
    bare = client.post("/api/v1/events", json=DAY, headers=organiser).json["id"]
    response = client.put(f"/api/v1/events/{bare}/registration", json={"themes": ["privacy"]}, headers=as_user(app, 5))
    assert response.status_code == 400 and "no themes yet" in response.json["error"]["message"]
    assert (
        client.put("/api/v1/events/999/registration", json={"themes": ["x"]}, headers=as_user(app, 5)).status_code
        == 404
    )


def test_registration_closes_at_the_deadline(app, organiser, day, as_user) -> None:  # type: ignore[no-untyped-def]
    client = app.test_client()
    attendee = as_user(app, 5)
    path = f"/api/v1/events/{day}/registration"
    assert client.put(path, json={"themes": ["privacy"]}, headers=attendee).status_code == 200
    soon = {"registration_deadline": "2099-01-01T00:00:00Z"}
    assert client.patch(f"/api/v1/events/{day}/setup", json=soon, headers=organiser).status_code == 400  # after the day
    past = {"registration_deadline": "2020-01-01T00:00:00Z"}
    assert client.patch(f"/api/v1/events/{day}/setup", json=past, headers=organiser).json["registration_open"] is False

    late = client.put(path, json={"themes": ["equity"]}, headers=attendee)
    assert late.status_code == 409 and late.json["error"]["code"] == "registration_closed"
    assert client.delete(path, headers=attendee).status_code == 409
    assert [r.themes for r in _registrations(app)] == [["privacy"]]
    assert client.get(path, headers=attendee).json["themes"] == ["privacy"]  # still readable


def test_thesaurus_changes_carry_registrations_along(app, organiser, day, as_user) -> None:  # type: ignore[no-untyped-def]
    client = app.test_client()
    client.put(f"/api/v1/events/{day}/registration", json={"themes": ["ehr", "privacy"]}, headers=as_user(app, 5))
    path = f"/api/v1/events/{day}/thesaurus"
    without_ehr = [t for t in THEMES if t != "ehr"]
    removed = client.put(path, json={"themes": without_ehr}, headers=organiser)
    assert removed.status_code == 409 and "1 registration" in removed.json["error"]["message"]
    merged = [*[t for t in without_ehr if t != "privacy"], {"name": "privacy", "synonyms": ["ehr"]}]
    assert client.put(path, json={"themes": merged}, headers=organiser).status_code == 200
    assert [r.themes for r in _registrations(app)] == [["privacy"]]  # both choices were one theme now


# --- organisers: list, import, export ----------------------------------------------------------------------------
def test_people_come_from_user_registered_once_per_event(app) -> None:  # type: ignore[no-untyped-def]
    first = _user(5, "Ada@Example.org", "Ada Lovelace")
    consumer = _consume(app, first, first, _user(6, "alan@example.org"))
    assert consumer.stats.failed == 0
    with app.extensions["db"].unit_of_work() as session:
        people = session.scalars(select(PersonCopy).order_by(PersonCopy.user_id)).all()
        assert [(p.user_id, p.email, p.display_name) for p in people] == [
            (5, "ada@example.org", "Ada Lovelace"),
            (6, "alan@example.org", "User 6"),
        ]


def test_organiser_imports_csv_and_lists_the_registrations(app, organiser, day, as_user) -> None:  # type: ignore[no-untyped-def]
    client = app.test_client()
    client.put(f"/api/v1/events/{day}/registration", json={"themes": ["equity"]}, headers=as_user(app, 6))
    _consume(app, _user(5, "ada@example.org", "Ada Lovelace"), _user(6, "user6@example.org", "Alan Turing"))
    data = _csv(
        "Email,Themes,Tools",
        'ada@example.org,"ML; data linkage",R',
        "",  # blank lines are skipped
        "USER6@example.org,privacy;equity,SQL;Python",
    )
    imported = _import(app, organiser, day, data)
    assert imported.status_code == 200, imported.json
    assert imported.json == {"imported": 2, "created": 1, "updated": 1}

    listed = client.get(f"/api/v1/events/{day}/registrations", headers=organiser).json
    assert listed["total"] == 2
    assert [(i["display_name"], i["themes"], i["tools"], i["source"]) for i in listed["items"]] == [
        ("Ada Lovelace", ["machine learning", "data linkage"], ["R"], "import"),
        ("Alan Turing", ["privacy", "equity"], ["SQL", "Python"], "import"),
    ]
    # The same file again (as a text/csv body): replaced, not duplicated.
    assert _import(app, organiser, day, data, as_file=False).json == {"imported": 2, "created": 0, "updated": 2}
    assert len(_registrations(app)) == 2


def test_a_csv_with_bad_rows_names_every_row_and_column_and_imports_nothing(app, organiser, day) -> None:  # type: ignore[no-untyped-def]
    people = ("ada", "alan", "grace", "hopper", "lin")
    _consume(app, *(_user(5 + i, f"{name}@example.org") for i, name in enumerate(people)))
    data = _csv(
        "email,themes,tools,interests",
        "ada@example.org,machine learning,R,",  # row 2: fine
        "nobody@example.org,privacy,,",  # row 3: no such person
        "alan@example.org,astrology;privacy,,",  # row 4: unknown theme
        "not-an-email,privacy,,",  # row 5
        "grace@example.org,,,",  # row 6: no theme
        "ada@example.org,privacy,,",  # row 7: Ada again
        '"hopper@example.org","a;b;c;d;e;f",,',  # row 8: too many themes
        "lin@example.org,privacy,,,extra",  # row 9: one cell too many
    )
    response = _import(app, organiser, day, data)
    assert response.status_code == 400
    assert response.json["error"]["code"] == "invalid_csv" and response.json["error"]["field"] == "file"
    errors = [(e["row"], e["column"]) for e in response.json["errors"]]
    assert errors == [
        (3, "email"),
        (4, "themes"),
        (5, "email"),
        (6, "themes"),
        (7, "email"),
        (8, "themes"),
        (9, None),
    ], response.json["errors"]
    messages = {(e["row"], e["column"]): e["message"] for e in response.json["errors"]}
    assert "astrology" in messages[(4, "themes")] and "row 2" in messages[(7, "email")]
    assert "rows 3, 4, 5, 6, 7, 8, 9" in response.json["error"]["message"]
    assert _registrations(app) == []


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (_csv("mail,themes", "ada@example.org,privacy"), [(1, "email"), (1, "mail")]),
        (_csv("email", "ada@example.org"), [(1, "themes")]),
        (b"", [(1, None)]),
        (_csv("email,themes"), [(1, None)]),  # a header only
        ("email,themes\nada@example.org,privacy\n".encode("utf-16"), [(1, None)]),
    ],
)
def test_a_csv_that_is_not_the_expected_file_is_refused(app, organiser, day, data, expected) -> None:  # type: ignore[no-untyped-def]
    _consume(app, _user(5, "ada@example.org"))
    response = _import(app, organiser, day, data)
    assert response.status_code == 400, response.json
    assert [(e["row"], e["column"]) for e in response.json["errors"]] == expected
    assert _registrations(app) == []


def test_export_is_csv_that_imports_back(app, organiser, day, as_user) -> None:  # type: ignore[no-untyped-def]
    client = app.test_client()
    client.put(
        f"/api/v1/events/{day}/registration",
        json={"themes": ["ML", "privacy"], "tools": ["R", "SQL"], "interests": ["consent"]},
        headers=as_user(app, 5),
    )
    client.put(f"/api/v1/events/{day}/registration", json={"themes": ["equity"]}, headers=as_user(app, 6))
    _consume(app, _user(5, "ada@example.org", "=Ada, Countess"))  # the copy of people follows the newest news
    exported = client.get(f"/api/v1/events/{day}/registrations.csv", headers=organiser)
    assert exported.status_code == 200 and exported.mimetype == "text/csv"
    assert "attachment" in exported.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(exported.data.decode("utf-8-sig"))))
    assert [(r["email"], r["display_name"], r["themes"], r["tools"]) for r in rows] == [
        ("ada@example.org", "'=Ada, Countess", "machine learning; privacy", "R; SQL"),  # no formula in spreadsheets
        ("user6@example.org", "User 6", "equity", ""),  # from the identity the gateway signed
    ]
    client.delete(f"/api/v1/events/{day}/registration", headers=as_user(app, 6))
    again = _import(app, organiser, day, exported.data)
    assert again.status_code == 200, again.json
    assert [(r.user_id, r.themes, r.tools, r.interests) for r in _registrations(app)] == [
        (5, ["machine learning", "privacy"], ["R", "SQL"], ["consent"]),
        (6, ["equity"], [], []),
    ]


def test_only_organisers_list_import_and_export(app, day, as_user) -> None:  # type: ignore[no-untyped-def]
    client = app.test_client()
    someone = as_user(app, 5, "attendee", "author")
    for path in ("registrations", "registrations.csv"):
        response = client.get(f"/api/v1/events/{day}/{path}", headers=someone)
        assert response.status_code == 403 and response.json["error"]["code"] == "forbidden"
        assert client.get(f"/api/v1/events/{day}/{path}").status_code == 401
    refused = _import(app, someone, day, _csv("email,themes", "user5@example.org,privacy"))
    assert refused.status_code == 403
    with app.extensions["db"].unit_of_work() as session:
        assert session.scalar(select(func.count()).select_from(Registration)) == 0


def test_on_postgres_concurrent_changes_take_distinct_revisions_and_one_row_each(  # type: ignore[no-untyped-def]
    make_app, postgres_server, monkeypatch, as_user
) -> None:
    """Compose's database: the set-up row lock and the upserts (ON CONFLICT) under real concurrency."""
    import threading
    import uuid

    monkeypatch.setenv("MATCHING_DATABASE_URL", postgres_server.create_database(f"matching_{uuid.uuid4().hex[:8]}"))
    app = make_app("matching")
    organiser = as_user(app, 1, "organiser")
    day_id = app.test_client().post("/api/v1/events", json=DAY, headers=organiser).json["id"]
    statuses: list[int] = []

    def run(calls) -> None:  # type: ignore[no-untyped-def]
        threads = [threading.Thread(target=call) for call in calls]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def put_thesaurus(n: int):  # type: ignore[no-untyped-def]
        themes = [*THEMES, f"theme {n}"]
        return lambda: statuses.append(
            app.test_client()
            .put(f"/api/v1/events/{day_id}/thesaurus", json={"themes": themes}, headers=organiser)
            .status_code
        )

    run([put_thesaurus(n) for n in range(6)])
    assert statuses == [200] * 6
    with app.extensions["db"].unit_of_work() as session:
        rows = session.scalars(select(Outbox).where(Outbox.type == "ThesaurusUpdated").order_by(Outbox.id)).all()
        assert sorted(Envelope.from_json(r.body).parse().revision for r in rows) == [1, 2, 3, 4, 5, 6]  # type: ignore[attr-defined]

    statuses.clear()
    attendee = as_user(app, 5)

    def register(themes: list[str]):  # type: ignore[no-untyped-def]
        return lambda: statuses.append(
            app.test_client()
            .put(f"/api/v1/events/{day_id}/registration", json={"themes": themes}, headers=attendee)
            .status_code
        )

    run([register(["privacy"]), register(["equity"]), register(["ehr", "privacy"]), register(["ML"])])
    assert statuses == [200] * 4 and len(_registrations(app)) == 1

    slot = {"starts_at": "2026-12-01T10:00:00Z", "ends_at": "2026-12-01T11:00:00Z", "kind": "breakout"}
    statuses.clear()
    run(
        [
            lambda: statuses.append(
                app.test_client().post(f"/api/v1/events/{day_id}/slots", json=slot, headers=organiser).status_code
            )
            for _ in range(4)
        ]
    )
    assert sorted(statuses) == [201, 409, 409, 409]  # the overlap check sees the slot a concurrent call made
    _consume(app, _user(5, "user5@example.org"))
    assert _import(app, organiser, day_id, _csv("email,themes", "user5@example.org,equity")).status_code == 200
