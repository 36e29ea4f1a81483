"""Read-side use cases: the gallery (search, filters, paging), a project page, similar projects."""

from __future__ import annotations

import math
from dataclasses import dataclass

from sqlalchemy import ColumnElement, exists, func, null, select
from sqlalchemy.orm import Session

from services.posters.adapters.orm import KnownEvent, PosterRow, ProjectRow, ProjectTheme, ProjectTool
from services.posters.adapters.search import SearchDocument, SearchIndex, terms
from services.posters.adapters.similarity import SimilarityModel, cache
from services.posters.domain import project as rules
from services.posters.domain.poster import READY
from services.posters.domain.viewer import Viewer
from services.posters.service import NotFound, search_document, search_documents, visible_project
from shared.db import Database


@dataclass(frozen=True)
class GalleryQuery:
    q: str = ""
    theme: str = ""
    organisation: str = ""
    region: str = ""
    tool: str = ""
    sort: str = "relevance"  # relevance | recent
    page: int = 1
    per_page: int = 20
    include_hidden: bool = False


@dataclass
class Card:
    project: ProjectRow
    cover_poster_id: int | None
    poster_count: int
    score: float | None = None


@dataclass
class GalleryPage:
    cards: list[Card]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))


def gallery(db: Database, index: SearchIndex, viewer: Viewer, event_id: int, query: GalleryQuery) -> GalleryPage:
    with db.unit_of_work() as session:
        if session.get(KnownEvent, event_id) is None:
            raise NotFound("event")
        conditions = _gallery_conditions(viewer, event_id, query)
        recent = (ProjectRow.created_at.desc(), ProjectRow.id.desc())
        words = terms(query.q)
        if words:
            # Count with `id IN (matches)` and page with a join on the ranked matches: both let the database
            # run the full-text query once (a join in a count made SQLite probe it once per project).
            fts = index.matches(words)
            counted = (
                select(func.count())
                .select_from(ProjectRow)
                .where(*conditions, ProjectRow.id.in_(index.matching_ids(words)))
            )
            stmt = select(ProjectRow, fts.c.rank).join(fts, fts.c.project_id == ProjectRow.id).where(*conditions)
            order = (fts.c.rank, *recent) if query.sort == "relevance" else recent
        else:
            counted = select(func.count()).select_from(ProjectRow).where(*conditions)
            stmt = select(ProjectRow, null().label("rank")).where(*conditions)  # keep the (row, rank) shape
            order = recent
        total = session.scalar(counted) or 0
        rows = session.execute(
            stmt.order_by(*order).limit(query.per_page).offset((query.page - 1) * query.per_page)
        ).all()
        covers = _covers(session, [r[0].id for r in rows])
        cards = [
            Card(r[0], *covers.get(r[0].id, (None, 0)), score=None if r[1] is None else -float(r[1])) for r in rows
        ]
        return GalleryPage(cards, total, query.page, query.per_page)


def _gallery_conditions(viewer: Viewer, event_id: int, query: GalleryQuery) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [ProjectRow.event_id == event_id]
    if not (query.include_hidden and viewer.is_organiser):
        conditions.append(ProjectRow.hidden.is_(False))
    if query.theme:
        key = rules.label_key(query.theme)
        conditions.append(exists().where(ProjectTheme.project_id == ProjectRow.id, ProjectTheme.key == key))
    if query.tool:
        key = rules.label_key(query.tool)
        conditions.append(exists().where(ProjectTool.project_id == ProjectRow.id, ProjectTool.key == key))
    if query.organisation:
        conditions.append(ProjectRow.organisation_key == rules.label_key(query.organisation))
    if query.region:
        conditions.append(ProjectRow.region_key == rules.label_key(query.region))
    return conditions


def _covers(session: Session, project_ids: list[int]) -> dict[int, tuple[int | None, int]]:
    """Per project: the first ready poster (its thumbnail is the card's picture) and the ready poster count."""
    if not project_ids:
        return {}
    posters = session.execute(
        select(PosterRow.project_id, PosterRow.id)
        .where(PosterRow.project_id.in_(project_ids), PosterRow.status == READY, PosterRow.media == "poster")
        .order_by(PosterRow.project_id, PosterRow.position, PosterRow.id)
    ).all()
    covers: dict[int, tuple[int | None, int]] = {}
    for project_id, poster_id in posters:
        first, count = covers.get(project_id, (poster_id, 0))
        covers[project_id] = (first, count + 1)
    return covers


def project_page(db: Database, viewer: Viewer, project_id: int) -> tuple[ProjectRow, list[PosterRow]]:
    """The project and the posters this viewer may see, in display order."""
    with db.unit_of_work() as session:
        row = visible_project(session, viewer, project_id)
        stmt = select(PosterRow).where(PosterRow.project_id == row.id).order_by(PosterRow.position, PosterRow.id)
        if not (viewer.owns(row.owner_id) or viewer.is_organiser):
            stmt = stmt.where(PosterRow.status == READY)
        return row, list(session.scalars(stmt).all())


def my_projects(db: Database, viewer: Viewer) -> list[ProjectRow]:
    with db.unit_of_work() as session:
        stmt = select(ProjectRow).where(ProjectRow.owner_id == viewer.user_id).order_by(ProjectRow.created_at.desc())
        return list(session.scalars(stmt).all())


def similar(db: Database, viewer: Viewer, project_id: int, limit: int = 5) -> list[tuple[Card, float]]:
    with db.unit_of_work() as session:
        row = visible_project(session, viewer, project_id)
        event = session.get(KnownEvent, row.event_id)
        version = event.search_version if event else 0
        key = (db.url, row.event_id)
        model = cache.get(key, version)
        if model is None:
            model = _fit(session, row.event_id)
            cache.put(key, version, model)
        neighbours = model.neighbours(row.id, _similarity_text(search_document(session, row)), limit)
        ids = [pid for pid, _ in neighbours]
        found = {p.id: p for p in session.scalars(select(ProjectRow).where(ProjectRow.id.in_(ids))).all()}
        covers = _covers(session, ids)
        return [
            (Card(found[pid], *covers.get(pid, (None, 0))), score)
            for pid, score in neighbours
            if pid in found and not found[pid].hidden
        ]


def _similarity_text(doc: SearchDocument) -> str:
    # Title and themes repeated: they say what a project is about better than a poster's small print.
    return " ".join([doc.title] * 3 + [doc.themes] * 2 + [doc.summary, doc.learnings, doc.tools, doc.poster_text])


def _fit(session: Session, event_id: int) -> SimilarityModel:
    rows = session.scalars(
        select(ProjectRow).where(ProjectRow.event_id == event_id, ProjectRow.hidden.is_(False)).order_by(ProjectRow.id)
    ).all()
    return SimilarityModel.fit(
        [r.id for r in rows], [_similarity_text(d) for d in search_documents(session, list(rows))]
    )
