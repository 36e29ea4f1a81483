"""Read-side use cases: the gallery (search, filters, paging), a project page, similar projects."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import (
    JSON,
    ColumnElement,
    Integer,
    Select,
    String,
    Subquery,
    bindparam,
    exists,
    func,
    literal_column,
    null,
    select,
    union_all,
)
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
    shape = _shape(db, index, viewer, query, words)
    page_stmt, count_stmt = _gallery_statements(shape)
    params = {
        **_filter_params(index, words, event_id, query),
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


def _shape(db: Database, index: SearchIndex, viewer: Viewer, query: GalleryQuery, words: list[str]) -> _Shape:
    return _Shape(
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


def _filter_params(index: SearchIndex, words: list[str], event_id: int, query: GalleryQuery) -> dict[str, Any]:
    """The bound values of `_gallery_conditions` and the full-text match, for the gallery and its facets."""
    return {
        "event_id": event_id,
        "search": index.search_value(words) if words else None,
        "theme": rules.label_key(query.theme),
        "tool": rules.label_key(query.tool),
        "organisation": rules.label_key(query.organisation),
        "region": rules.label_key(query.region),
    }


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


# --- facets: how many visible projects each filter value would give ---------------------------------------------
@dataclass(frozen=True, slots=True)
class FacetValue:
    label: str
    key: str  # what the filter compares (rules.label_key); the label is what people pick
    count: int
    selected: bool = False


@dataclass
class Facets:
    themes: list[FacetValue]
    organisations: list[FacetValue]
    regions: list[FacetValue]
    tools: list[FacetValue]
    total: int  # projects matching the search and every filter: what the gallery would list


# facet name -> the GalleryQuery field (and _Shape flag) it filters on
FACET_FILTERS = {"themes": "theme", "organisations": "organisation", "regions": "region", "tools": "tool"}


def facets(db: Database, index: SearchIndex, viewer: Viewer, event_id: int, query: GalleryQuery) -> Facets:
    """Counts per filter value for the gallery's current search, in one statement (the full-text query runs once).

    Standard faceted search: each facet counts the projects matching the search and the *other* filters, so its
    own choice does not hide the values one could switch to. A chosen value nothing matches is still listed (count
    0, `selected`), so a shared link's filter stays visible and can be undone."""
    words = terms(query.q)
    params = _filter_params(index, words, event_id, query)
    found: dict[str, list[FacetValue]] = {name: [] for name in FACET_FILTERS}
    total = 0
    with db.engine.connect() as conn:
        for row in conn.execute(_facet_statement(_shape(db, index, viewer, query, words)), params):
            if row.facet == "total":
                total = row.hits
            else:
                chosen = params[FACET_FILTERS[row.facet]]
                found[row.facet].append(FacetValue(row.label, row.key, row.hits, row.key == chosen))
        if total == 0 and conn.scalar(select(KnownEvent.id).where(KnownEvent.id == event_id)) is None:
            raise NotFound("event")
    for name, field in FACET_FILTERS.items():
        chosen = params[field]
        if chosen and not any(v.selected for v in found[name]):
            found[name].append(FacetValue(rules.clean_label(getattr(query, field)), chosen, 0, True))
        found[name].sort(key=lambda v: (-v.count, v.label.casefold(), v.label))
    return Facets(found["themes"], found["organisations"], found["regions"], found["tools"], total)


@functools.cache  # like the gallery's: one statement per shape, every value bound
def _facet_statement(shape: _Shape) -> Any:
    """UNION ALL of one GROUP BY per facet (rows: facet, key, label, hits) and the total as a last row."""
    fts = shape.index.matches() if shape.searching else None  # one CTE object: rendered (and run) once

    def matching(stmt: Select[Any], own: str | None) -> Select[Any]:
        """`stmt` narrowed to the projects the search and every filter but `own` let through."""
        if fts is not None:
            stmt = stmt.join(fts, fts.c.project_id == ProjectRow.id)
        return stmt.where(*_gallery_conditions(shape._replace(**{own: False}) if own else shape))

    def named(name: str) -> Any:
        return literal_column(f"'{name}'").label("facet")  # a constant of ours, never user input

    parts: list[Select[Any]] = []
    for name, model in (("themes", ProjectTheme), ("tools", ProjectTool)):
        grouped = select(named(name), model.key, func.min(model.label).label("label"), func.count().label("hits"))
        grouped = grouped.join_from(model, ProjectRow, model.project_id == ProjectRow.id)
        parts.append(matching(grouped, FACET_FILTERS[name]).group_by(model.key))  # (project, key) is unique
    for name, key, label in (
        ("organisations", ProjectRow.organisation_key, ProjectRow.organisation),
        ("regions", ProjectRow.region_key, ProjectRow.region),
    ):
        grouped = select(named(name), key.label("key"), func.min(label).label("label"), func.count().label("hits"))
        parts.append(matching(grouped.select_from(ProjectRow).where(key != ""), FACET_FILTERS[name]).group_by(key))
    empty = literal_column("''")
    counted = select(named("total"), empty.label("key"), empty.label("label"), func.count().label("hits"))
    parts.append(matching(counted.select_from(ProjectRow), None))
    return union_all(*parts)


def _cards(postgres: bool, ids: Subquery, *extra: ColumnElement[Any]) -> Select[Any]:
    """The card columns of the projects whose ids `ids` holds, each card's labels and cover included: per project
    its themes and tools (JSON arrays in display order), its cover (first ready poster, else its video) and its
    ready poster count."""
    mine_ready = (PosterRow.project_id == ProjectRow.id, PosterRow.status == READY)
    ready = (*mine_ready, PosterRow.media == "poster")
    # The first poster is the picture; a project with only a video shows the video's poster frame.
    cover = (
        select(PosterRow.id)
        .where(*mine_ready)
        .order_by(PosterRow.media != "poster", PosterRow.position, PosterRow.id)
        .limit(1)
    )
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
