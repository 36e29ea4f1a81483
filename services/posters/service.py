"""Use cases about projects: create, edit, delete, hide, browse, search, similar. One unit of work each."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.posters import quotas
from services.posters.adapters.orm import (
    KnownEvent,
    Outbox,
    PosterRow,
    ProjectIdIssued,
    ProjectRow,
    ProjectTheme,
    ProjectTool,
)
from services.posters.adapters.search import SearchDocument, SearchIndex
from services.posters.adapters.storage import BlobStorage
from services.posters.approval import hold as approval
from services.posters.blobs import blobs_of, release_blobs
from services.posters.domain import project as rules
from services.posters.domain.poster import READY
from services.posters.domain.viewer import Viewer
from shared import outbox
from shared.db import Database
from shared.events import ProjectDeleted, ProjectPublished, ProjectUpdated


class NotFound(LookupError):
    pass


class Forbidden(PermissionError):
    pass


class Conflict(RuntimeError):
    pass


@dataclass(frozen=True)
class ProjectInput:
    title: str
    summary: str
    themes: list[str]
    learnings: list[str]
    questions: list[str] = field(default_factory=list)
    tools: list[str] = field(default_factory=list)
    organisation: str | None = None
    region: str | None = None
    authors: list[str] | None = None
    video_url: str | None = None


# --- helpers shared with uploads.py ---------------------------------------------------------------------
def get_project(session: Session, project_id: int, *, for_update: bool = False) -> ProjectRow:
    """The project; `for_update` locks its row until commit (Postgres; SQLite's write lock serialises anyway):
    what a change that announces the project must do, so concurrent changes get distinct revisions and each
    event carries the row as its own change left it."""
    if for_update:
        stmt = select(ProjectRow).where(ProjectRow.id == project_id).with_for_update()
        row = session.scalars(stmt.execution_options(populate_existing=True)).one_or_none()
    else:
        row = session.get(ProjectRow, project_id)
    if row is None:
        raise NotFound("project")
    return row


def visible_project(session: Session, viewer: Viewer, project_id: int, *, for_update: bool = False) -> ProjectRow:
    """The project if this viewer may see it; a hidden project is 'not found' to everyone else."""
    row = get_project(session, project_id, for_update=for_update)
    if row.hidden and not (viewer.owns(row.owner_id) or viewer.is_organiser):
        raise NotFound("project")
    return row


def owned_project(session: Session, viewer: Viewer, project_id: int, *, for_update: bool = False) -> ProjectRow:
    row = visible_project(session, viewer, project_id, for_update=for_update)
    if not viewer.owns(row.owner_id):
        raise Forbidden("only the project's author may change it")
    return row


def search_documents(session: Session, rows: list[ProjectRow]) -> list[SearchDocument]:
    """Search documents of these projects, with the text of their ready posters (one query for all)."""
    texts: dict[int, list[str]] = {r.id: [] for r in rows}
    for project_id, text in session.execute(
        select(PosterRow.project_id, PosterRow.text)
        .where(PosterRow.project_id.in_(list(texts)), PosterRow.status == READY, PosterRow.text != "")
        .order_by(PosterRow.project_id, PosterRow.position, PosterRow.id)
    ):
        texts[project_id].append(text)
    return [
        SearchDocument(
            project_id=row.id,
            title=row.title,
            summary=row.summary,
            learnings="\n".join(row.learnings),
            authors=", ".join(row.authors),
            organisation=row.organisation,
            tools=", ".join(t.label for t in row.tools),
            themes=", ".join(t.label for t in row.themes),
            poster_text="\n".join(texts[row.id]),
        )
        for row in rows
    ]


def search_document(session: Session, row: ProjectRow) -> SearchDocument:
    return search_documents(session, [row])[0]


def reindex(session: Session, index: SearchIndex, row: ProjectRow) -> None:
    """Refresh the project's search document in the same transaction as the change that caused it."""
    session.flush()
    index.upsert(session, search_document(session, row))
    bump_search_version(session, row.event_id)


def bump_search_version(session: Session, event_id: int) -> None:
    event = session.get(KnownEvent, event_id)
    if event is not None:
        event.search_version = (event.search_version or 0) + 1


# --- commands -------------------------------------------------------------------------------------------
def _apply(session: Session, row: ProjectRow, data: ProjectInput, thesaurus: list[str]) -> None:
    row.title = rules.clean_text(data.title)
    row.summary = rules.clean_text(data.summary)
    row.learning_1, row.learning_2, row.learning_3 = rules.learnings(data.learnings)
    row.questions = rules.questions(data.questions)
    row.organisation = rules.clean_label(data.organisation or "")
    row.organisation_key = rules.label_key(row.organisation)
    row.region = rules.clean_label(data.region or "")
    row.region_key = rules.label_key(row.region)
    row.authors = [a.label for a in rules.labels("authors", data.authors or [], rules.MAX_AUTHORS)]
    row.video_url = data.video_url
    themes = rules.themes_from_thesaurus(data.themes, thesaurus)
    tools = rules.labels("tools", data.tools, rules.MAX_TOOLS)
    # Replace the label rows; flush the deletes first so a kept label can be inserted again.
    row.themes.clear()
    row.tools.clear()
    session.flush()
    row.themes.extend(ProjectTheme(key=t.key, label=t.label, position=i) for i, t in enumerate(themes))
    row.tools.extend(ProjectTool(key=t.key, label=t.label, position=i) for i, t in enumerate(tools))


def _new_project_id(session: Session) -> int | None:
    """A project id never issued before (None: let Postgres's sequence pick one, it never reuses). On SQLite the
    newest project's id would come back after its delete, and matching's tombstone of it would hide the new one."""
    if session.get_bind().dialect.name != "sqlite":
        return None
    issued = ProjectIdIssued()
    session.add(issued)
    session.flush()
    session.delete(issued)  # AUTOINCREMENT remembers the highest id; the row itself is not needed
    return issued.id


def create_project(
    db: Database,
    index: SearchIndex,
    viewer: Viewer,
    event_id: int,
    data: ProjectInput,
    *,
    max_projects: int | None = None,
) -> ProjectRow:
    with db.unit_of_work() as session:
        event = session.get(KnownEvent, event_id)
        if event is None:
            raise NotFound("event")
        quotas.check_project_quota(session, viewer, max_projects)
        defaults = ProjectInput(
            **{
                **data.__dict__,
                "organisation": data.organisation or viewer.organisation,
                "region": data.region or viewer.region,
                "authors": data.authors or [viewer.display_name or f"User {viewer.user_id}"],
            }
        )
        row = ProjectRow(
            id=_new_project_id(session),
            event_id=event_id,
            owner_id=viewer.user_id,
            owner_name=viewer.display_name,
            hidden=False,
            revision=1,
        )
        session.add(row)
        _apply(session, row, defaults, list(event.thesaurus or []))
        session.flush()
        reindex(session, index, row)
        outbox.record(
            session,
            Outbox,
            ProjectPublished(
                project_id=row.id,
                event_id=event_id,
                owner_id=viewer.user_id,
                title=row.title,
                themes=[t.label for t in row.themes],
                revision=row.revision,
                summary=row.summary or "",
                learnings=[text for text in row.learnings if text],
            ),
        )
        if approval.hold_if_unapproved(session, row, viewer):  # hidden until an organiser approves the author
            bump_search_version(session, event_id)
            next_revision(row)
            outbox.record(session, Outbox, project_updated(row))
        return row


def update_project(
    db: Database, index: SearchIndex, viewer: Viewer, project_id: int, changes: dict[str, object]
) -> ProjectRow:
    with db.unit_of_work() as session:
        row = owned_project(session, viewer, project_id, for_update=True)
        current = ProjectInput(
            title=row.title,
            summary=row.summary,
            themes=[t.label for t in row.themes],
            learnings=row.learnings,
            questions=list(row.questions),
            tools=[t.label for t in row.tools],
            organisation=row.organisation,
            region=row.region,
            authors=list(row.authors),
            video_url=row.video_url,
        )
        merged = ProjectInput(**{**current.__dict__, **changes})
        event = session.get(KnownEvent, row.event_id)
        _apply(session, row, merged, list(event.thesaurus or []) if event else [])
        row.updated_at = datetime.now(UTC)
        reindex(session, index, row)
        next_revision(row)
        outbox.record(session, Outbox, project_updated(row))
        return row


def next_revision(row: ProjectRow) -> int:
    """Count a change of the project (on a row loaded `for_update`); its event carries the new revision."""
    row.revision = (row.revision or 0) + 1
    return row.revision


def project_updated(row: ProjectRow) -> ProjectUpdated:
    """The snapshot after a change (counted with `next_revision`), at the row's revision."""
    return ProjectUpdated(
        project_id=row.id,
        event_id=row.event_id,
        owner_id=row.owner_id,
        title=row.title,
        themes=[t.label for t in row.themes],
        hidden=bool(row.hidden),
        revision=row.revision,
        summary=row.summary or "",
        learnings=[text for text in row.learnings if text],
    )


def delete_project(db: Database, storage: BlobStorage, index: SearchIndex, viewer: Viewer, project_id: int) -> None:
    with db.unit_of_work() as session:
        row = owned_project(session, viewer, project_id, for_update=True)
        posters = session.scalars(select(PosterRow).where(PosterRow.project_id == row.id)).all()
        shas = {sha for p in posters for sha in blobs_of(p)}
        for poster in posters:
            session.delete(poster)
        index.remove(session, row.id)
        bump_search_version(session, row.event_id)
        deleted = ProjectDeleted(
            project_id=row.id, event_id=row.event_id, owner_id=row.owner_id, revision=next_revision(row)
        )
        outbox.record(session, Outbox, deleted)
        session.delete(row)
    release_blobs(db, storage, shas)


def set_hidden(db: Database, viewer: Viewer, project_id: int, hidden: bool, reason: str | None) -> ProjectRow:
    if not viewer.is_organiser:
        raise Forbidden("only organisers may hide or unhide projects")
    with db.unit_of_work() as session:
        row = get_project(session, project_id, for_update=True)
        row.hidden = hidden
        row.hidden_reason = reason if hidden else None
        row.hidden_by = viewer.user_id if hidden else None
        row.hidden_at = datetime.now(UTC) if hidden else None
        bump_search_version(session, row.event_id)
        next_revision(row)
        outbox.record(session, Outbox, project_updated(row))
        return row
