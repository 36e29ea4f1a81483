"""Read-side use cases: the gallery (search, filters, paging), a project page, similar projects."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import JSON, ColumnElement, Integer, Select, String, Subquery, bindparam, exists, func, null, select
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


@dataclass(frozen=True, slots=True)
class Card:
    """What a gallery card shows, read as plain columns: no ORM entities on the gallery's hot path."""

    id: int
    event_id: int
    title: str
    summary: str
    themes: list[str]
    tools: list[str]
    organisation: str
    region: str
    authors: list[str]
    hidden: bool
    created_at: datetime
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
    """One statement returns the page, the total and everything its cards show; the full-text query runs once."""
    words = terms(query.q)
    shape = _Shape(
        dialect=db.engine.dialect.name,
        index=index,
        searching=bool(words),
        relevance=bool(words) and query.sort == "relevance",
        visible_only=not (query.include_hidden and viewer.is_organiser),
        theme=bool(query.theme),
        tool=bool(query.tool),
        organisation=bool(query.organisation),
        region=bool(query.region),
    )
    page_stmt, count_stmt = _gallery_statements(shape)
    params = {
        "event_id": event_id,
        "search": index.search_value(words) if words else None,
        "theme": rules.label_key(query.theme),
        "tool": rules.label_key(query.tool),
        "organisation": rules.label_key(query.organisation),
        "region": rules.label_key(query.region),
        "limit": query.per_page,
        "offset": (query.page - 1) * query.per_page,
    }
    with db.engine.connect() as conn:  # read-only: a plain connection, no ORM session to set up and commit
        rows = conn.execute(page_stmt, params).all()
        if rows:
            total = rows[0].total
        else:  # an empty page: tell an unknown event (404) from no match, and count when past the last page
            if conn.scalar(select(KnownEvent.id).where(KnownEvent.id == event_id)) is None:
                raise NotFound("event")
            total = (conn.scalar(count_stmt, params) or 0) if query.page > 1 else 0
    return GalleryPage([_card(r, None if r.rank is None else -r.rank) for r in rows], total, query.page, query.per_page)


class _Shape(NamedTuple):
    """What a gallery statement depends on besides its parameters' values."""

    dialect: str
    index: SearchIndex
    searching: bool
    relevance: bool
    visible_only: bool
    theme: bool
    tool: bool
    organisation: bool
    region: bool


@functools.cache  # statements, not results: a few dozen shapes, each built once (building one costs ~1 ms)
def _gallery_statements(shape: _Shape) -> tuple[Select[Any], Select[Any]]:
    """The page statement (cards, rank and total) and the count alone, every value a bound parameter."""
    conditions = _gallery_conditions(shape)
    if shape.searching:
        fts = shape.index.matches()
        # Read twice (count and page), so the database filters the matches once and keeps them.
        candidates: Any = (
            select(ProjectRow.id, fts.c.rank, ProjectRow.created_at)
            .join_from(fts, ProjectRow, fts.c.project_id == ProjectRow.id)
            .where(*conditions)
            .cte("matched")
        )
        counted = select(func.count()).select_from(candidates)
    else:
        # Browsing: no full-text query; the total is a subquery over the same conditions, evaluated once.
        candidates = select(ProjectRow.id, null().label("rank"), ProjectRow.created_at).where(*conditions).subquery()
        counted = select(func.count()).select_from(ProjectRow).where(*conditions)
    page = (
        select(
            candidates.c.id,
            candidates.c.rank,
            candidates.c.created_at,
            counted.correlate(None).scalar_subquery().label("total"),
        )
        .order_by(*_order(candidates, shape.relevance))
        .limit(bindparam("limit", type_=Integer))
        .offset(bindparam("offset", type_=Integer))
        .subquery("page")
    )
    cards = _cards(shape.dialect == "postgresql", page, page.c.rank, page.c.total)
    return cards.order_by(*_order(page, shape.relevance)), counted


def _order(rows: Any, relevance: bool) -> list[ColumnElement[Any]]:
    recent = [rows.c.created_at.desc(), rows.c.id.desc()]
    return [rows.c.rank, *recent] if relevance else recent


def _gallery_conditions(shape: _Shape) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [ProjectRow.event_id == bindparam("event_id", type_=Integer)]
    if shape.visible_only:
        conditions.append(ProjectRow.hidden.is_(False))
    if shape.theme:
        theme = bindparam("theme", type_=String)
        conditions.append(exists().where(ProjectTheme.project_id == ProjectRow.id, ProjectTheme.key == theme))
    if shape.tool:
        tool = bindparam("tool", type_=String)
        conditions.append(exists().where(ProjectTool.project_id == ProjectRow.id, ProjectTool.key == tool))
    if shape.organisation:
        conditions.append(ProjectRow.organisation_key == bindparam("organisation", type_=String))
    if shape.region:
        conditions.append(ProjectRow.region_key == bindparam("region", type_=String))
    return conditions


def _cards(postgres: bool, ids: Subquery, *extra: ColumnElement[Any]) -> Select[Any]:
    """The card columns of the projects whose ids `ids` holds, each card's labels and cover included: per project
    its themes and tools (JSON arrays in display order), its first ready poster and its ready poster count."""
    ready = (PosterRow.project_id == ProjectRow.id, PosterRow.status == READY, PosterRow.media == "poster")
    cover = select(PosterRow.id).where(*ready).order_by(PosterRow.position, PosterRow.id).limit(1)
    return select(
        ProjectRow.id,
        ProjectRow.event_id,
        ProjectRow.title,
        ProjectRow.summary,
        _labels(ProjectTheme, postgres).label("themes"),
        _labels(ProjectTool, postgres).label("tools"),
        ProjectRow.organisation,
        ProjectRow.region,
        ProjectRow.authors,
        ProjectRow.hidden,
        ProjectRow.created_at,
        cover.scalar_subquery().label("cover"),
        select(func.count()).where(*ready).scalar_subquery().label("poster_count"),
        *extra,
    ).join_from(ids, ProjectRow, ProjectRow.id == ids.c.id)


def _labels(model: type[ProjectTheme] | type[ProjectTool], postgres: bool) -> ColumnElement[Any]:
    """A project's labels as a JSON array, in display order."""
    mine = model.project_id == ProjectRow.id
    if postgres:
        found = func.json_agg(model.label, type_=JSON).aggregate_order_by(model.position, model.key)
        return select(found).where(mine).scalar_subquery()  # NULL without labels: _card reads it as []
    # SQLite (3.40) has no ORDER BY inside an aggregate: it aggregates the rows of an ordered subquery in order.
    ordered = select(model.label).where(mine).order_by(model.position, model.key).correlate(ProjectRow).subquery()
    return select(func.json_group_array(ordered.c.label, type_=JSON)).scalar_subquery()


def _card(row: Any, score: float | None = None) -> Card:
    return Card(
        row.id,
        row.event_id,
        row.title,
        row.summary,
        row.themes or [],
        row.tools or [],
        row.organisation,
        row.region,
        row.authors,
        row.hidden,
        row.created_at,
        row.cover,
        row.poster_count,
        score,
    )


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
        shown = select(ProjectRow.id).where(
            ProjectRow.id.in_([pid for pid, _ in neighbours]), ProjectRow.hidden.is_(False)
        )
        found = {
            r.id: _card(r) for r in session.execute(_cards(db.engine.dialect.name == "postgresql", shown.subquery()))
        }
        return [(found[pid], score) for pid, score in neighbours if pid in found]


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
