"""Use cases of the follow-up feature. The `apply_*` functions run inside a consumer's unit of work; the rest open
their own. Notifications go through `outgoing.notify` (deterministic key, preferences), and the caller pushes and
enqueues them with `outgoing.after_commit` once committed."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from services.notify import outgoing
from services.notify.adapters.orm import Outbox, Recipient
from services.notify.calendar.models import ACTIVE, BREAKOUT, COFFEE, CalendarEntry
from services.notify.followup import domain
from services.notify.followup.models import (
    AcceptedContact,
    DigestBatch,
    EndedDay,
    FollowUpAction,
    HeldChat,
    ProjectNote,
    ProjectView,
    SurveyAnswer,
)
from services.notify.followup.tokens import survey_url
from shared import outbox
from shared.db import Database
from shared.events import (
    ChatHeld,
    ContactAccepted,
    EventEnded,
    FollowUpActionDone,
    FollowUpActionNoted,
    ProjectDeleted,
    ProjectPublished,
    ProjectUpdated,
    ProjectViewed,
    QuestionAnswered,
    QuestionAsked,
    SurveyAnswered,
    as_utc,
    is_newer,
    utcnow,
)

log = logging.getLogger(__name__)


class NotFound(LookupError):
    pass


class NotAttendee(PermissionError):
    pass


def _when(value: str) -> datetime:
    return as_utc(datetime.fromisoformat(value))


# --- the day ends: remember it and split its attendees into digest batches -------------------------------------
def attendees_known(session: Session, event_id: int) -> set[int]:
    """Everyone notify saw taking part in the day, besides the ids matching sends with EventEnded."""
    found: set[int] = set(session.scalars(select(CalendarEntry.user_id).where(CalendarEntry.event_id == event_id)))
    found.update(session.scalars(select(ProjectView.user_id).where(ProjectView.event_id == event_id)))
    for author, attendee in session.execute(
        select(HeldChat.author_id, HeldChat.attendee_id).where(HeldChat.event_id == event_id)
    ):
        found.update((author, attendee))
    found.update(session.scalars(select(FollowUpAction.owner_id).where(FollowUpAction.event_id == event_id)))
    return found


def apply_event_ended(session: Session, event: EventEnded, survey_days: int, batch_size: int) -> list[int]:
    """Store the ended day and its digest batches (ids returned, to enqueue after commit); nothing if known."""
    if session.get(EndedDay, event.event_id) is not None:
        return []
    ended_at = _when(event.ended_at)
    attendees = sorted(set(event.attendee_ids) | attendees_known(session, event.event_id))
    session.add(
        EndedDay(
            event_id=event.event_id,
            title=event.title,
            timezone=event.timezone,
            ended_at=ended_at,
            attendee_ids=attendees,
            contactable_user_ids=sorted(set(event.contactable_user_ids)),
            survey_due_at=domain.survey_due(ended_at, survey_days),
        )
    )
    batches = [
        DigestBatch(event_id=event.event_id, user_ids=attendees[start : start + batch_size])
        for start in range(0, len(attendees), batch_size)
    ]
    session.add_all(batches)
    session.flush()
    log.info("day ended: digests planned", extra={"insight_day": event.event_id, "attendees": len(attendees)})
    return [b.id for b in batches]


def stale_batches(db: Database, older_than: datetime, limit: int = 500) -> list[int]:
    """Pending batches enqueued before `older_than` (their task was lost or its worker died); re-stamped."""
    with db.unit_of_work() as session:
        rows = list(
            session.scalars(
                select(DigestBatch)
                .where(DigestBatch.done.is_(False), DigestBatch.enqueued_at < older_than)
                .order_by(DigestBatch.id)
                .limit(limit)
            )
        )
        for row in rows:
            row.enqueued_at = utcnow()
        return [r.id for r in rows]


# --- what one person's digest holds ----------------------------------------------------------------------------
def _names(session: Session, user_ids: Iterable[int]) -> dict[int, str]:
    ids = sorted(set(user_ids))
    found: dict[int, str] = {}
    for start in range(0, len(ids), 500):
        for user_id, name in session.execute(
            select(Recipient.user_id, Recipient.display_name).where(Recipient.user_id.in_(ids[start : start + 500]))
        ):
            found[user_id] = name
    return found


def _chunks(ids: Iterable[int], size: int = 500) -> Iterable[list[int]]:
    ordered = sorted(set(ids))
    for start in range(0, len(ordered), size):
        yield ordered[start : start + size]


@dataclass
class DayFacts:
    """What the digests of some of a day's attendees need, loaded in a few queries for all of them at once."""

    met: dict[int, domain.Encounters]
    chat_projects: dict[int, list[int]]
    contacts: dict[int, set[int]]
    viewed: dict[int, list[int]]
    actions: dict[int, list[FollowUpAction]]
    notes: dict[int, ProjectNote]
    names: dict[int, str]


def _shared_places(session: Session, event_id: int, people: set[int], met: dict[int, domain.Encounters]) -> None:
    """Who shared a breakout or coffee group with each of `people` (chats count only when held)."""
    mine: list[CalendarEntry] = []
    for chunk in _chunks(people):
        mine += session.scalars(
            select(CalendarEntry).where(
                CalendarEntry.user_id.in_(chunk),
                CalendarEntry.event_id == event_id,
                CalendarEntry.status == ACTIVE,
                CalendarEntry.kind.in_((BREAKOUT, COFFEE)),
            )
        ).all()
    members: dict[tuple[str, str], list[int]] = {}
    for kind in (BREAKOUT, COFFEE):
        subjects = sorted({e.subject_id for e in mine if e.kind == kind})
        for start in range(0, len(subjects), 500):
            for user_id, subject in session.execute(
                select(CalendarEntry.user_id, CalendarEntry.subject_id).where(
                    CalendarEntry.kind == kind,
                    CalendarEntry.subject_id.in_(subjects[start : start + 500]),
                    CalendarEntry.status == ACTIVE,
                )
            ):
                members.setdefault((kind, subject), []).append(user_id)
    for entry in mine:
        where = f"breakout “{domain.one_line(entry.title, 100)}”" if entry.kind == BREAKOUT else "coffee"
        for other in [*members.get((entry.kind, entry.subject_id), []), *entry.with_users()]:
            if other != entry.user_id:
                met[entry.user_id].add(other, where)


def _load_facts(session: Session, event_id: int, user_ids: list[int]) -> DayFacts:
    people = set(user_ids)
    met: dict[int, domain.Encounters] = {u: domain.Encounters() for u in people}
    chat_projects: dict[int, list[int]] = {u: [] for u in people}
    contacts: dict[int, set[int]] = {u: set() for u in people}
    viewed: dict[int, list[int]] = {u: [] for u in people}
    actions: dict[int, list[FollowUpAction]] = {u: [] for u in people}
    _shared_places(session, event_id, people, met)
    for chunk in _chunks(people):
        for chat in session.scalars(
            select(HeldChat)
            .where(HeldChat.event_id == event_id, or_(HeldChat.author_id.in_(chunk), HeldChat.attendee_id.in_(chunk)))
            .order_by(HeldChat.held_at)
        ):
            for me, other in ((chat.author_id, chat.attendee_id), (chat.attendee_id, chat.author_id)):
                if me in people:
                    met[me].add(other, "1-1 chat")
                    if chat.project_id is not None:
                        chat_projects[me].append(chat.project_id)
        for low, high in session.execute(
            select(AcceptedContact.person_low, AcceptedContact.person_high).where(
                or_(AcceptedContact.person_low.in_(chunk), AcceptedContact.person_high.in_(chunk))
            )
        ):
            for me, other in ((low, high), (high, low)):
                if me in people:
                    contacts[me].add(other)
        for user_id, project_id in session.execute(
            select(ProjectView.user_id, ProjectView.project_id)
            .where(ProjectView.event_id == event_id, ProjectView.user_id.in_(chunk))
            .order_by(ProjectView.viewed_at, ProjectView.id)
        ):
            viewed[user_id].append(project_id)
        for action in session.scalars(
            select(FollowUpAction)
            .where(
                FollowUpAction.event_id == event_id,
                FollowUpAction.done_at.is_(None),
                or_(FollowUpAction.owner_id.in_(chunk), FollowUpAction.other_user_id.in_(chunk)),
            )
            .order_by(FollowUpAction.noted_at, FollowUpAction.action_id)
        ):
            for user_id in {action.owner_id, action.other_user_id}:
                if user_id in people and action not in actions[user_id]:
                    actions[user_id].append(action)
    project_ids = {p for ids in (*viewed.values(), *chat_projects.values()) for p in ids}
    notes: dict[int, ProjectNote] = {}
    for chunk in _chunks(project_ids):
        for note in session.scalars(
            select(ProjectNote).where(
                ProjectNote.project_id.in_(chunk), ProjectNote.deleted.is_(False), ProjectNote.hidden.is_(False)
            )
        ):
            notes[note.project_id] = note
    others = {o for m in met.values() for o in m.where}
    for rows in actions.values():
        others.update(a.owner_id for a in rows)
        others.update(a.other_user_id for a in rows if a.other_user_id is not None)
    return DayFacts(met, chat_projects, contacts, viewed, actions, notes, _names(session, others))


def _digest_from(day: EndedDay, user_id: int, facts: DayFacts, contactable: set[int]) -> domain.Digest:
    contacts = facts.contacts[user_id]
    listed = {o: where for o, where in facts.met[user_id].where.items() if domain.may_list(o, contactable, contacts)}
    people, more = domain.people_listed(
        [domain.Person(other, facts.names.get(other, "Attendee"), where) for other, where in listed.items()]
    )
    project_ids = list(dict.fromkeys([*facts.chat_projects[user_id], *facts.viewed[user_id]]))
    projects = tuple(
        domain.Project(pid, facts.notes[pid].title, tuple(facts.notes[pid].learnings[:3]))
        for pid in project_ids
        if pid in facts.notes
    )

    def partner(action: FollowUpAction) -> str:
        other = action.other_user_id if action.owner_id == user_id else action.owner_id
        return facts.names.get(other or 0, "")

    actions = tuple(
        domain.Action(a.action_id, a.text, a.owner_id == user_id, partner(a), a.due_on)
        for a in facts.actions[user_id]
        if a.text  # a "done" that overtook its "noted": nothing to show
    )
    return domain.Digest(
        day.event_id,
        day.title,
        domain.local_date(as_utc(day.ended_at), day.timezone),
        people,
        more,
        projects,
        actions,
    )


def build_digests(
    session: Session, day: EndedDay, user_ids: list[int], contactable: set[int]
) -> dict[int, domain.Digest]:
    """The digests of these attendees, from a few queries for all of them (a batch of 100 is ~10 queries)."""
    facts = _load_facts(session, day.event_id, user_ids)
    return {user_id: _digest_from(day, user_id, facts, contactable) for user_id in user_ids}


def build_digest(session: Session, day: EndedDay, user_id: int, contactable: set[int]) -> domain.Digest:
    return build_digests(session, day, [user_id], contactable)[user_id]


def write_batch(db: Database, batch_id: int, public_url: str) -> list[int]:
    """Every digest of one batch, in one unit of work; returns the new notifications' ids (after_commit them)."""
    made: list[int] = []
    with db.unit_of_work() as session:
        batch = session.get(DigestBatch, batch_id, with_for_update=True)
        if batch is None or batch.done:
            return []
        day = session.get(EndedDay, batch.event_id)
        if day is None:
            return []
        contactable = set(day.contactable_user_ids)
        link = f"/followup/events/{day.event_id}"
        url = public_url.rstrip("/") + link
        digests = build_digests(session, day, list(batch.user_ids), contactable)
        title = domain.digest_title(day.title)
        # One notify_many for the batch: a few statements instead of about six per digest.
        made = outgoing.notify_many(
            session,
            [
                outgoing.Outgoing(
                    user_id=user_id,
                    kind=domain.DIGEST_KIND,
                    category=domain.CATEGORY,
                    subject_key=f"event:{day.event_id}",
                    version=1,
                    title=title,
                    text=domain.digest_text(digest, url),
                    html=domain.digest_html(digest, url),
                    link=link,
                    summary=domain.digest_summary(digest),
                )
                for user_id in batch.user_ids
                if not (digest := digests[user_id]).empty  # nothing to follow up: no mail that says so
            ],
        )
        batch.done = True
    return made


def digest_for(db: Database, event_id: int, user_id: int) -> tuple[EndedDay, domain.Digest]:
    with db.unit_of_work() as session:
        day = session.get(EndedDay, event_id)
        if day is None:
            raise NotFound("insight day")
        if user_id not in set(day.attendee_ids):
            raise NotAttendee("not an attendee of that day")
        digest = build_digest(session, day, user_id, set(day.contactable_user_ids))
        session.expunge(day)
        return day, digest


# --- copies kept from other services' events ---------------------------------------------------------------
def keep_project(session: Session, event: ProjectPublished | ProjectUpdated) -> None:
    row = session.get(ProjectNote, event.project_id, with_for_update=True)
    if row is None:
        row = ProjectNote(project_id=event.project_id, revision=0)
        session.add(row)
    elif row.deleted or not is_newer(event.revision, row.revision):
        return
    row.event_id, row.owner_id, row.title = event.event_id, event.owner_id, event.title
    row.learnings = list(event.learnings)[:3]
    row.hidden = bool(getattr(event, "hidden", False))
    if event.revision is not None:
        row.revision = event.revision


def forget_project(session: Session, event: ProjectDeleted) -> None:
    row = session.get(ProjectNote, event.project_id, with_for_update=True)
    if row is None:
        row = ProjectNote(project_id=event.project_id, event_id=event.event_id, owner_id=event.owner_id)
        session.add(row)
    row.deleted, row.title, row.learnings = True, "", []
    if event.revision is not None:
        row.revision = max(row.revision or 0, event.revision)


def apply_project_viewed(session: Session, event: ProjectViewed) -> None:
    seen = session.scalar(
        select(ProjectView.id).where(ProjectView.user_id == event.user_id, ProjectView.project_id == event.project_id)
    )
    if seen is None:
        session.add(
            ProjectView(
                user_id=event.user_id,
                project_id=event.project_id,
                event_id=event.event_id,
                viewed_at=_when(event.viewed_at),
            )
        )


def apply_chat_held(session: Session, event: ChatHeld) -> None:
    if session.get(HeldChat, event.room_id) is None:
        session.add(
            HeldChat(
                room_id=event.room_id,
                event_id=event.event_id,
                project_id=event.project_id,
                author_id=event.author_id,
                attendee_id=event.attendee_id,
                held_at=_when(event.held_at),
            )
        )


def apply_action_noted(session: Session, event: FollowUpActionNoted) -> None:
    row = session.get(FollowUpAction, event.action_id)
    if row is None:
        row = FollowUpAction(action_id=event.action_id)
        session.add(row)
    row.room_id, row.event_id, row.owner_id = event.room_id, event.event_id, event.owner_id
    row.other_user_id, row.text = event.other_user_id, event.text
    row.due_on, row.noted_at = domain.parse_due_on(event.due_on), _when(event.noted_at)


def apply_action_done(session: Session, event: FollowUpActionDone) -> None:
    row = session.get(FollowUpAction, event.action_id)
    if row is None:  # "done" overtook "noted" on the bus: keep the fact; the note fills the rest in
        row = FollowUpAction(
            action_id=event.action_id, room_id="", owner_id=event.owner_id, text="", noted_at=_when(event.done_at)
        )
        session.add(row)
    row.done_at = row.done_at or _when(event.done_at)


# --- notices: Q&A and contacts -------------------------------------------------------------------------------
def apply_question_asked(session: Session, event: QuestionAsked) -> list[int]:
    if event.asker_id == event.owner_id:
        return []
    asker = "Someone" if event.anonymous else _names(session, [event.asker_id]).get(event.asker_id, "An attendee")
    title = f"New question on “{domain.one_line(event.project_title, 120)}”"
    text = f"{domain.one_line(asker, 100)} asked: {domain.one_line(event.text, 600)}\n\nAnswer it on your project page."
    row = outgoing.notify(
        session,
        user_id=event.owner_id,
        kind=domain.QUESTION_ASKED_KIND,
        category=domain.NEWS,
        subject_key=f"question:{event.question_id}",
        version=1,
        title=title,
        text=text,
        link=f"/projects/{event.project_id}",
    )
    return [row.id] if row else []


def apply_question_answered(session: Session, event: QuestionAnswered) -> list[int]:
    title = f"Your question on “{domain.one_line(event.project_title, 120)}” was answered"
    row = outgoing.notify(
        session,
        user_id=event.asker_id,
        kind=domain.QUESTION_ANSWERED_KIND,
        category=domain.NEWS,
        subject_key=f"question:{event.question_id}",
        version=1,
        title=title,
        text="The author answered your question. Read the answer on the project page.",
        link=f"/projects/{event.project_id}",
    )
    return [row.id] if row else []


def apply_contact_accepted(session: Session, event: ContactAccepted) -> list[int]:
    low, high = sorted((event.requester_id, event.recipient_id))
    if session.get(AcceptedContact, (low, high)) is None:
        session.add(AcceptedContact(person_low=low, person_high=high, event_id=event.event_id))
    names = _names(session, [event.requester_id, event.recipient_id])
    made = []
    for me, other in ((event.requester_id, event.recipient_id), (event.recipient_id, event.requester_id)):
        other_name = domain.one_line(names.get(other, "An attendee"), 100)
        row = outgoing.notify(
            session,
            user_id=me,
            kind=domain.CONTACT_ACCEPTED_KIND,
            category=domain.NEWS,
            subject_key=f"contact:{event.request_id}",
            version=1,
            title=f"You and {other_name} are now contacts",
            text=f"You and {other_name} are now contacts: you can find each other under My contacts.",
            link="/me/contacts",
            email=me == event.requester_id,  # the recipient just clicked "accept": no mail for that
        )
        if row is not None:
            made.append(row.id)
    return made


# --- the follow-up survey --------------------------------------------------------------------------------------
def due_surveys(db: Database, now: datetime) -> list[int]:
    with db.unit_of_work() as session:
        return list(
            session.scalars(
                select(EndedDay.event_id).where(EndedDay.survey_sent_at.is_(None), EndedDay.survey_due_at <= now)
            )
        )


def invite_chunk(db: Database, event_id: int, user_ids: list[int], public_url: str, secret: str) -> list[int]:
    made: list[int] = []
    with db.unit_of_work() as session:
        day = session.get(EndedDay, event_id)
        if day is None:
            return []
        answered = set(
            session.scalars(
                select(SurveyAnswer.user_id).where(
                    SurveyAnswer.event_id == event_id, SurveyAnswer.user_id.in_(user_ids)
                )
            )
        )
        for user_id in user_ids:
            if user_id in answered:
                continue
            url = survey_url(public_url, secret, user_id, event_id)
            row = outgoing.notify(
                session,
                user_id=user_id,
                kind=domain.SURVEY_KIND,
                category=domain.CATEGORY,
                subject_key=f"event:{event_id}",
                version=1,
                title=f"One minute on {domain.one_line(day.title, 120)}: what happened next?",
                text=domain.survey_text(day.title, url),
                html=domain.survey_html(day.title, url),
                link=f"/followup/survey/{event_id}",
                summary="Three short questions: did you contact anyone, adopt anything, what stopped you?",
            )
            if row is not None:
                made.append(row.id)
    return made


def survey_audience(db: Database, event_id: int) -> list[int]:
    with db.unit_of_work() as session:
        day = session.get(EndedDay, event_id)
        return list(day.attendee_ids) if day else []


def mark_survey_sent(db: Database, event_id: int) -> None:
    with db.unit_of_work() as session:
        day = session.get(EndedDay, event_id)
        if day is not None and day.survey_sent_at is None:
            day.survey_sent_at = utcnow()


@dataclass(frozen=True)
class SurveyState:
    event_id: int
    title: str
    timezone: str
    ended_at: datetime
    answer: SurveyAnswer | None


def _attended_day(session: Session, event_id: int, user_id: int) -> EndedDay:
    day = session.get(EndedDay, event_id)
    if day is None:
        raise NotFound("survey")
    if user_id not in set(day.attendee_ids):
        raise NotAttendee("only people who took part in the day can answer its survey")
    return day


def survey_state(db: Database, event_id: int, user_id: int) -> SurveyState:
    with db.unit_of_work() as session:
        day = _attended_day(session, event_id, user_id)
        answer = session.scalar(
            select(SurveyAnswer).where(SurveyAnswer.event_id == event_id, SurveyAnswer.user_id == user_id)
        )
        if answer is not None:
            session.expunge(answer)
        return SurveyState(day.event_id, day.title, day.timezone, as_utc(day.ended_at), answer)


def answer_survey(
    db: Database, event_id: int, user_id: int, contacted: bool, adopted: bool, blockers: str
) -> SurveyAnswer:
    """Store (or replace) the answer and announce it with SurveyAnswered in the same transaction."""
    now = utcnow()
    with db.unit_of_work() as session:
        _attended_day(session, event_id, user_id)
        row = session.scalar(
            select(SurveyAnswer)
            .where(SurveyAnswer.event_id == event_id, SurveyAnswer.user_id == user_id)
            .with_for_update()
        )
        if row is None:
            row = SurveyAnswer(event_id=event_id, user_id=user_id)
            session.add(row)
        row.contacted_someone, row.adopted_something, row.blockers, row.answered_at = contacted, adopted, blockers, now
        outbox.record(
            session,
            Outbox,
            SurveyAnswered(
                event_id=event_id,
                user_id=user_id,
                contacted_someone=contacted,
                adopted_something=adopted,
                blockers=blockers,
                answered_at=now.isoformat(),
            ),
        )
        session.flush()
        session.expunge(row)
        return row


# --- open follow-up actions ----------------------------------------------------------------------------------
def remind_open_actions(db: Database, now: datetime, limit: int = 500) -> list[int]:
    """One reminder per open action and week, until done (or MAX_ACTION_REMINDERS); returns notification ids."""
    made: list[int] = []
    cutoff = now - domain.ACTION_REMINDER_EVERY
    with db.unit_of_work() as session:
        rows = session.scalars(
            select(FollowUpAction)
            .where(
                FollowUpAction.done_at.is_(None),
                FollowUpAction.text != "",
                FollowUpAction.reminders_sent < domain.MAX_ACTION_REMINDERS,
                or_(
                    and_(FollowUpAction.last_reminded_at.is_(None), FollowUpAction.noted_at <= cutoff),
                    FollowUpAction.last_reminded_at <= cutoff,
                ),
            )
            .order_by(FollowUpAction.action_id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).all()
        names = _names(session, [r.other_user_id for r in rows if r.other_user_id])
        for row in rows:
            if not domain.action_reminder_due(
                as_utc(row.noted_at), row.last_reminded_at and as_utc(row.last_reminded_at), row.reminders_sent, now
            ):
                continue
            row.reminders_sent += 1
            row.last_reminded_at = now
            note = outgoing.notify(
                session,
                user_id=row.owner_id,
                kind=domain.ACTION_REMINDER_KIND,
                category=domain.CATEGORY,
                subject_key=f"action:{row.action_id}",
                version=row.reminders_sent,
                title=f"Reminder: {domain.one_line(row.text, 120)}",
                text=domain.action_reminder_text(
                    row.text, row.due_on, names.get(row.other_user_id or 0, ""), "/followup"
                ),
                link="/followup",
            )
            if note is not None:
                made.append(note.id)
    return made


@dataclass(frozen=True)
class MyFollowUp:
    days: list[tuple[EndedDay, bool]]  # (day, survey answered)
    actions: list[FollowUpAction]


def my_followup(db: Database, user_id: int, days_shown: int = 50) -> MyFollowUp:
    with db.unit_of_work() as session:
        recent = session.scalars(select(EndedDay).order_by(EndedDay.ended_at.desc()).limit(days_shown)).all()
        mine = [d for d in recent if user_id in set(d.attendee_ids)]
        answered = set(
            session.scalars(
                select(SurveyAnswer.event_id).where(
                    SurveyAnswer.user_id == user_id, SurveyAnswer.event_id.in_([d.event_id for d in mine])
                )
            )
        )
        actions = list(
            session.scalars(
                select(FollowUpAction)
                .where(FollowUpAction.owner_id == user_id, FollowUpAction.done_at.is_(None), FollowUpAction.text != "")
                .order_by(FollowUpAction.noted_at)
            )
        )
        for row in [*mine, *actions]:
            session.expunge(row)
        return MyFollowUp([(d, d.event_id in answered) for d in mine], actions)
