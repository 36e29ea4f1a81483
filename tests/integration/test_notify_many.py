"""outgoing.notify_many (a fan-out's bulk path) against a real migrated SQLite database: the same results as
calling `notify` once per person — keys made once, unknown people skipped, preferences honoured."""

from __future__ import annotations

from sqlalchemy import select

from services.notify import outgoing
from services.notify.adapters.orm import Email, Notification, Recipient
from services.notify.domain import rules
from services.notify.preferences.models import NotificationSettings


def _item(user_id: int, version: int = 1) -> outgoing.Outgoing:
    return outgoing.Outgoing(
        user_id=user_id,
        kind="followup_digest",
        category="followup",
        subject_key="event:7",
        version=version,
        title="Your follow-up\r\nBcc: x@evil.example",
        text="plain",
        html="<p>html</p>",
        summary="short",
    )


def test_notify_many_matches_notify_one_by_one(make_app) -> None:  # type: ignore[no-untyped-def]
    db = make_app("notify").extensions["db"]
    with db.unit_of_work() as session:
        for user_id in (1, 2, 3, 4):
            session.add(Recipient(user_id=user_id, email=f"user{user_id}@example.org", display_name=f"U{user_id}"))
        session.add(NotificationSettings(user_id=2, channels={"followup": {"email": "off", "in_app": False}}))
        session.add(NotificationSettings(user_id=3, channels={"followup": {"email": "daily"}}))
    with db.unit_of_work() as session:  # user 4's notification exists already: made once, whatever the path
        earlier = outgoing.notify(session, **{k: v for k, v in vars(_item(4)).items()})
        assert earlier is not None

    with db.unit_of_work() as session:
        made = outgoing.notify_many(session, [_item(1), _item(2), _item(3), _item(4), _item(99), _item(1)])
    with db.unit_of_work() as session:
        rows = {n.user_id: n for n in session.scalars(select(Notification).where(Notification.id.in_(made)))}
        emails = {e.user_id: e for e in session.scalars(select(Email).where(Email.notification_id.in_(made)))}

    assert sorted(rows) == [1, 2, 3]  # 4 made before, 99 unknown, the repeated 1 once
    assert [rows[u].id for u in (1, 2, 3)] == made  # in the order given
    assert rows[1].in_app and not rows[2].in_app and rows[3].in_app
    assert rows[1].title == "Your follow-up Bcc: x@evil.example" and rows[1].body == "short"
    assert sorted(emails) == [1, 3]  # user 2 switched follow-up mail off
    assert emails[1].status == rules.QUEUED and emails[1].lease_until is not None
    assert emails[3].status == outgoing.HELD and emails[3].lease_until is None
    assert "\n" not in emails[1].subject and emails[1].html_body == "<p>html</p>"

    with db.unit_of_work() as session:  # a redelivered batch: nothing new
        assert outgoing.notify_many(session, [_item(1), _item(3)]) == []
