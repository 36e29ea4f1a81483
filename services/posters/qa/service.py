"""Use cases of project Q&A and first views: one unit of work each, events recorded in the same transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.posters.adapters.orm import Outbox, ProjectRow
from services.posters.domain.viewer import Viewer
from services.posters.qa import domain
from services.posters.qa.models import ProjectView, QuestionRow, QuestionVote
from services.posters.service import Conflict, Forbidden, NotFound, visible_project
from shared import outbox
from shared.db import Database
from shared.events import ProjectViewed, QuestionAnswered, QuestionAsked

MAX_LISTED = 500


@dataclass(frozen=True)
class QuestionView:
    row: QuestionRow
    upvoted_by_me: bool


def _question(session: Session, viewer: Viewer, question_id: int, *, for_update: bool = False) -> QuestionRow:
    """The question if its project is visible to this viewer (a hidden project's questions are 'not found')."""
    stmt = select(QuestionRow).where(QuestionRow.id == question_id)
    if for_update:
        stmt = stmt.with_for_update()
    row = session.scalars(stmt).one_or_none()
    if row is None:
        raise NotFound("question")
    visible_project(session, viewer, row.project_id)
    return row


def list_questions(db: Database, viewer: Viewer, project_id: int) -> tuple[ProjectRow, list[QuestionView]]:
    """Most upvoted first, then oldest first (so the order is stable while nobody votes)."""
    with db.unit_of_work() as session:
        project = visible_project(session, viewer, project_id)
        rows = session.scalars(
            select(QuestionRow)
            .where(QuestionRow.project_id == project_id)
            .order_by(QuestionRow.upvotes.desc(), QuestionRow.created_at, QuestionRow.id)
            .limit(MAX_LISTED)
        ).all()
        mine = set(
            session.scalars(
                select(QuestionVote.question_id).where(
                    QuestionVote.user_id == viewer.user_id, QuestionVote.question_id.in_([r.id for r in rows])
                )
            )
        )
        return project, [QuestionView(r, r.id in mine) for r in rows]


def ask(db: Database, viewer: Viewer, project_id: int, text: str, anonymous: bool) -> QuestionRow:
    clean = domain.clean_text(text, "text", domain.QUESTION_MAX_CHARS)
    with db.unit_of_work() as session:
        project = visible_project(session, viewer, project_id)
        if not domain.may_ask(project.owner_id, viewer.user_id):
            raise Forbidden("authors answer questions on their own project; they cannot ask one")
        asked = session.scalar(
            select(func.count())
            .select_from(QuestionRow)
            .where(QuestionRow.project_id == project_id, QuestionRow.asker_id == viewer.user_id)
        )
        if (asked or 0) >= domain.QUESTIONS_PER_PERSON_AND_PROJECT:
            raise Conflict(f"at most {domain.QUESTIONS_PER_PERSON_AND_PROJECT} questions per person and project")
        row = QuestionRow(
            project_id=project.id,
            event_id=project.event_id,
            asker_id=viewer.user_id,
            asker_name=viewer.display_name or f"User {viewer.user_id}",
            anonymous=anonymous,
            text=clean,
            upvotes=0,
            created_at=datetime.now(UTC),
        )
        session.add(row)
        session.flush()
        outbox.record(
            session,
            Outbox,
            QuestionAsked(
                question_id=row.id,
                project_id=project.id,
                event_id=project.event_id,
                owner_id=project.owner_id,
                asker_id=viewer.user_id,
                anonymous=anonymous,
                project_title=project.title,
                text=clean,
                asked_at=row.created_at.isoformat(),
            ),
        )
        return row


def answer(db: Database, viewer: Viewer, question_id: int, text: str) -> QuestionView:
    """The project's author answers (or corrects the answer); the asker is told the first time only."""
    clean = domain.clean_text(text, "text", domain.ANSWER_MAX_CHARS)
    with db.unit_of_work() as session:
        row = _question(session, viewer, question_id, for_update=True)
        project = session.get(ProjectRow, row.project_id)
        if project is None or not viewer.owns(project.owner_id):
            raise Forbidden("only the project's author may answer its questions")
        first = row.answered_at is None
        row.answer = clean
        row.answered_by = viewer.user_id
        row.answered_at = datetime.now(UTC)
        if first:
            outbox.record(
                session,
                Outbox,
                QuestionAnswered(
                    question_id=row.id,
                    project_id=project.id,
                    event_id=project.event_id,
                    owner_id=project.owner_id,
                    asker_id=row.asker_id,
                    project_title=project.title,
                    answered_at=row.answered_at.isoformat(),
                ),
            )
        upvoted = session.get(QuestionVote, (row.id, viewer.user_id)) is not None
        return QuestionView(row, upvoted)


def delete_question(db: Database, viewer: Viewer, question_id: int) -> None:
    """The asker takes a question back, or an organiser removes it (moderation); its upvotes go with it."""
    with db.unit_of_work() as session:
        row = _question(session, viewer, question_id, for_update=True)
        if not domain.may_delete(row.asker_id, viewer.user_id, viewer.is_organiser):
            raise Forbidden("only the person who asked or an organiser may delete a question")
        session.delete(row)


def set_upvote(db: Database, viewer: Viewer, question_id: int, up: bool) -> QuestionView:
    """Idempotent both ways: a second upvote (or removing one never given) changes nothing."""
    try:
        return _set_upvote(db, viewer, question_id, up)
    except IntegrityError:  # the same person's concurrent upvote won the race: the vote is there once
        return _set_upvote(db, viewer, question_id, up)


def _set_upvote(db: Database, viewer: Viewer, question_id: int, up: bool) -> QuestionView:
    with db.unit_of_work() as session:
        row = _question(session, viewer, question_id, for_update=True)
        voted = session.get(QuestionVote, (question_id, viewer.user_id)) is not None
        if up and not voted:
            session.add(QuestionVote(question_id=question_id, user_id=viewer.user_id))
            session.flush()
            row.upvotes = (row.upvotes or 0) + 1
        elif not up and voted:
            session.execute(
                delete(QuestionVote).where(
                    QuestionVote.question_id == question_id, QuestionVote.user_id == viewer.user_id
                )
            )
            row.upvotes = max(0, (row.upvotes or 0) - 1)
        return QuestionView(row, up)


def record_view(db: Database, viewer: Viewer, project: ProjectRow) -> bool:
    """Note the first time this person opened the project (not its own author) and announce it once.
    True when this call recorded it. A concurrent first view loses on the primary key and records nothing."""
    if viewer.owns(project.owner_id):
        return False
    with db.unit_of_work() as session:
        if session.get(ProjectView, (project.id, viewer.user_id)) is not None:
            return False
    try:
        with db.unit_of_work() as session:
            now = datetime.now(UTC)
            session.add(ProjectView(project_id=project.id, user_id=viewer.user_id, viewed_at=now))
            session.flush()
            outbox.record(
                session,
                Outbox,
                ProjectViewed(
                    project_id=project.id,
                    event_id=project.event_id,
                    user_id=viewer.user_id,
                    viewed_at=now.isoformat(),
                ),
            )
    except IntegrityError:
        return False
    return True
