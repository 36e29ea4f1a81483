"""Follow-up in notify, with real parts: events applied through notify's handlers, a real Celery worker writing the
digests and sending mail to a real SMTP server (aiosmtpd), the survey answered with the signed mail link."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from flask import Flask
from sqlalchemy import func, select

from services.notify.adapters.orm import Notification, Outbox
from services.notify.calendar.models import CalendarEntry
from services.notify.consumers import handlers
from services.notify.followup import service
from services.notify.followup.domain import ACTION_REMINDER_KIND, DIGEST_KIND, QUESTION_ASKED_KIND, SURVEY_KIND
from services.notify.followup.models import FollowUpAction
from services.notify.followup.tasks import QUEUE, SEND_DUE_SURVEYS
from services.notify.smtp_sink import start as start_smtp_sink
from shared.events import (
    ChatHeld,
    DomainEvent,
    Envelope,
    EventEnded,
    FollowUpActionDone,
    FollowUpActionNoted,
    ProjectPublished,
    ProjectViewed,
    QuestionAsked,
    UserRegistered,
    utcnow,
)
from tests.support.processes import celery_worker, free_port, service_env, wait_until

pytestmark = pytest.mark.integration

DAY = 5
ENDED = "2026-06-03T17:00:00+00:00"


def deliver(app: Flask, event: DomainEvent | Envelope) -> Envelope:
    envelope = event if isinstance(event, Envelope) else event.envelope()
    handlers(app)[envelope.type](envelope)  # what notify's bus consumer does with it
    return envelope


def mails_to(directory: Path, address: str) -> list[EmailMessage]:
    found = [message_from_bytes(p.read_bytes(), policy=policy.default) for p in sorted(directory.glob("*.eml"))]
    return [m for m in found if m["X-RcptTo"] == address]  # type: ignore[misc]


def count(app: Flask, kind: str) -> int:
    with app.extensions["db"].unit_of_work() as session:
        return session.scalar(select(func.count()).select_from(Notification).where(Notification.kind == kind)) or 0


def seed_day(app: Flask) -> Envelope:
    """Users 1-4 (and 9, not at the day); 1, 2, 3 shared a breakout; 1 chatted with author 4 about project 7 and
    viewed project 8; 3 does not allow contact."""
    for user_id in (1, 2, 3, 4, 9):
        deliver(app, UserRegistered(user_id, f"user{user_id}@example.org", f"Person {user_id}", "Org", "North", []))
    with app.extensions["db"].unit_of_work() as session:
        for user_id in (1, 2, 3):
            session.add(
                CalendarEntry(
                    user_id=user_id,
                    kind="breakout",
                    subject_id="31",
                    event_id=DAY,
                    title="Privacy by design",
                    starts_at=datetime(2026, 6, 3, 9, tzinfo=UTC),
                    ends_at=datetime(2026, 6, 3, 10, tzinfo=UTC),
                    timezone="Europe/Paris",
                )
            )
    learnings = ["Start with the data steward", "Synthetic data first", "Publish the code"]
    deliver(app, ProjectPublished(7, DAY, 4, "Federated registry", ["privacy"], 1, "", learnings))
    deliver(app, ProjectPublished(8, DAY, 4, "Bcc <script>alert(1)</script>\r\nBcc: x@evil.test", [], 1, "", ["L1"]))
    deliver(app, ProjectViewed(8, DAY, 1, "2026-06-03T11:00:00+00:00"))
    deliver(app, ChatHeld("room-a", DAY, 12, 7, 4, 1, "2026-06-03T12:00:00+00:00"))
    deliver(app, FollowUpActionNoted(70, "room-a", DAY, 1, 4, "Send the consent template", "2030-06-20", ENDED))
    return deliver(app, EventEnded(DAY, "Health data day", "Europe/Paris", ENDED, [1, 2, 3, 4], [1, 2, 4]))


@pytest.fixture
def smtp(tmp_path: Path) -> Iterator[Controller]:
    controller = start_smtp_sink("127.0.0.1", free_port(), tmp_path / "mail")
    yield controller
    controller.stop()


def test_digests_and_survey_reach_the_mailbox_once(  # type: ignore[no-untyped-def]
    make_app, redis_url: str, service_environment: Path, tmp_path: Path, smtp: Controller
) -> None:
    app = make_app("notify", FOLLOWUP_DIGEST_BATCH=2, FOLLOWUP_SURVEY_DAYS=0)
    env = service_env(
        redis_url,
        service_environment,
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=str(smtp.port),
        FOLLOWUP_SURVEY_DAYS="0",
        FOLLOWUP_DIGEST_BATCH="2",
    )
    worker = celery_worker("notify", env, tmp_path, concurrency=2)
    mail_dir = tmp_path / "mail"
    try:
        ended = seed_day(app)
        wait_until(lambda: mails_to(mail_dir, "user1@example.org")[1:], timeout=90, what="welcome + digest to 1")
        digest = next(m for m in mails_to(mail_dir, "user1@example.org") if "follow-up" in str(m["Subject"]))
        assert digest["Subject"] == "Your follow-up from Health data day"
        assert digest["List-Unsubscribe"] and digest["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        text = digest.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        html = digest.get_body(("html",)).get_content()  # type: ignore[union-attr]
        assert "Person 2 (breakout “Privacy by design”)" in text and "Person 4 (1-1 chat)" in text
        assert "Person 3" not in text  # met, but hides their profile from other attendees
        assert "Federated registry" in text and "Synthetic data first" in text  # the chat's project
        assert "Send the consent template (you, by 2030-06-20)" in text
        assert "Wednesday 03 June 2026" in text
        assert "<script>" not in html and "&lt;script&gt;" in html
        assert digest["Bcc"] is None

        # Person 9 was not at the day; everyone who was got exactly one digest, also after a redelivery.
        deliver(app, ended)
        wait_until(lambda: count(app, DIGEST_KIND) == 4, timeout=60, what="4 digests")
        assert mails_to(mail_dir, "user9@example.org") and len(mails_to(mail_dir, "user9@example.org")) == 1

        # The survey is due at once here (FOLLOWUP_SURVEY_DAYS=0): sent by the beat task; twice is still once.
        celery = app.extensions["celery"]
        celery.send_task(SEND_DUE_SURVEYS, queue=QUEUE)
        celery.send_task(SEND_DUE_SURVEYS, queue=QUEUE)
        wait_until(
            lambda: [m for m in mails_to(mail_dir, "user2@example.org") if "One minute" in str(m["Subject"])],
            timeout=60,
            what="survey mail to 2",
        )
        wait_until(lambda: service.due_surveys(app.extensions["db"], utcnow()) == [], what="survey marked sent")
    except Exception:
        print(worker.output()[-5000:])
        raise
    finally:
        worker.stop()
    assert count(app, SURVEY_KIND) == 4
    survey = next(m for m in mails_to(mail_dir, "user2@example.org") if "One minute" in str(m["Subject"]))
    token = re.search(r"/followup/survey/5\?t=(\S+)", survey.get_body(("plain",)).get_content()).group(1)  # type: ignore[union-attr]

    client = app.test_client()
    path = f"/api/v1/followup/surveys/{DAY}"
    assert client.get(path).status_code == 401
    assert client.get(path, query_string={"token": token[:-2] + "xx"}).json["error"]["code"] == "invalid_token"
    assert client.get(path, query_string={"token": token}).json["answer"] is None
    bad = client.put(path, json={"contacted_someone": "yes", "adopted_something": False, "token": token})
    assert bad.status_code == 400 and bad.json["error"]["field"] == "contacted_someone"
    body = {"contacted_someone": True, "adopted_something": False, "blockers": "no time", "token": token}
    assert client.put(path, json=body).status_code == 200
    assert client.put(path, json={**body, "blockers": "no budget"}).json["answer"]["blockers"] == "no budget"
    with app.extensions["db"].unit_of_work() as session:
        answered = [
            Envelope.from_json(r.body).payload for r in session.scalars(select(Outbox)) if r.type == "SurveyAnswered"
        ]
    assert [(a["user_id"], a["blockers"]) for a in answered] == [(2, "no time"), (2, "no budget")]


def test_api_reminders_and_notices(make_app, as_user) -> None:  # type: ignore[no-untyped-def]
    app = make_app("notify", FOLLOWUP_SURVEY_DAYS=7)
    seed_day(app)
    client = app.test_client()
    db = app.extensions["db"]
    # Nobody is at the Celery queue here: the batches wait; write them in-process.
    from services.notify.followup.models import DigestBatch

    with db.unit_of_work() as session:
        batch_ids = list(session.scalars(select(DigestBatch.id)))
    for batch_id in batch_ids:
        service.write_batch(db, batch_id, "http://example.test")
    mine = client.get(f"/api/v1/me/followup/events/{DAY}", headers=as_user(app, 1)).json
    assert [p["name"] for p in mine["people"]] == ["Person 2", "Person 4"]
    assert [p["project_id"] for p in mine["projects"]] == [7, 8]
    assert mine["actions"][0]["text"] == "Send the consent template" and mine["actions"][0]["with"] == "Person 4"
    assert client.get(f"/api/v1/me/followup/events/{DAY}", headers=as_user(app, 9)).status_code == 404
    assert client.get(f"/api/v1/me/followup/events/{DAY}").status_code == 401
    overview = client.get("/api/v1/me/followup", headers=as_user(app, 1)).json
    assert [d["event_id"] for d in overview["days"]] == [DAY] and overview["actions"][0]["action_id"] == 70
    outsider = client.put(
        f"/api/v1/followup/surveys/{DAY}",
        json={"contacted_someone": True, "adopted_something": True},
        headers=as_user(app, 9),
    )
    assert outsider.status_code == 403 and outsider.json["error"]["code"] == "not_attendee"
    assert service.due_surveys(db, datetime(2026, 6, 10, 16, tzinfo=UTC)) == []  # 7 days after the end
    assert service.due_surveys(db, datetime(2026, 6, 10, 17, tzinfo=UTC)) == [DAY]

    # Weekly reminders of the open action, until it is marked done.
    noted = datetime.fromisoformat(ENDED)
    assert service.remind_open_actions(db, noted + timedelta(days=6)) == []
    assert len(service.remind_open_actions(db, noted + timedelta(days=7))) == 1
    assert service.remind_open_actions(db, noted + timedelta(days=8)) == []
    assert len(service.remind_open_actions(db, noted + timedelta(days=14, hours=1))) == 1
    deliver(app, FollowUpActionDone(70, 1, "2026-06-18T09:00:00+00:00"))
    assert service.remind_open_actions(db, noted + timedelta(days=30)) == []
    assert count(app, ACTION_REMINDER_KIND) == 2
    with db.unit_of_work() as session:
        assert session.get(FollowUpAction, 70).done_at is not None  # type: ignore[union-attr]

    # Q&A: the author hears of a question, without the name of an anonymous asker.
    deliver(app, QuestionAsked(91, 7, DAY, 4, 1, True, "Federated registry", "Which consent model?", ENDED))
    with db.unit_of_work() as session:
        note = session.scalars(select(Notification).where(Notification.kind == QUESTION_ASKED_KIND)).one()
        assert note.user_id == 4 and "Someone asked: Which consent model?" in note.body and "Person 1" not in note.body
