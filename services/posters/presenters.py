"""JSON shapes of the posters API. URLs are gateway-relative (/api/v1/...), as clients see them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from services.posters.adapters.orm import PosterRow, ProjectRow
from services.posters.domain.poster import READY, REJECTED
from services.posters.domain.viewer import Viewer
from services.posters.queries import Card, Facets, FacetValue

SUMMARY_CHARS = 300


def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()


def thumbnail_url(poster_id: int | None) -> str | None:
    return f"/api/v1/posters/{poster_id}/thumbnail.png" if poster_id else None


def poster_json(row: PosterRow) -> dict[str, Any]:
    ready = row.status == READY
    body: dict[str, Any] = {
        "id": row.id,
        "project_id": row.project_id,
        "event_id": row.event_id,
        "media": row.media,
        "kind": row.kind,
        "status": row.status,
        "position": row.position,
        "file_name": row.file_name,
        "byte_size": row.byte_size,
        "page_count": row.page_count,
        "thumbnail_url": thumbnail_url(row.id) if ready and row.thumbnail_sha else None,
        "pages": [
            {
                "number": p.number,
                "url": f"/api/v1/posters/{row.id}/pages/{p.number}.png",
                "width": p.width,
                "height": p.height,
            }
            for p in row.pages
        ]
        if ready
        else [],
        "video_url": f"/api/v1/posters/{row.id}/video" if ready and row.media == "video" else None,
        "duration_s": row.duration_s if ready else None,  # videos only: seconds, from the worker's probe
        "replaces": row.replaces_id,
        "created_at": iso(row.created_at),
        "processed_at": iso(row.processed_at),
        "status_url": f"/api/v1/posters/{row.id}",
    }
    if row.status == REJECTED:
        body["reason"] = row.reason
    return body


def card_json(card: Card, viewer: Viewer) -> dict[str, Any]:
    summary = card.summary if len(card.summary) <= SUMMARY_CHARS else card.summary[: SUMMARY_CHARS - 1] + "…"
    body: dict[str, Any] = {
        "id": card.id,
        "event_id": card.event_id,
        "title": card.title,
        "summary": summary,
        "themes": card.themes,
        "tools": card.tools,
        "organisation": card.organisation,
        "region": card.region,
        "authors": card.authors,
        "poster_count": card.poster_count,
        "thumbnail_url": thumbnail_url(card.cover_poster_id),
        "url": f"/api/v1/projects/{card.id}",
        "created_at": iso(card.created_at),
    }
    if card.score is not None:
        body["score"] = round(card.score, 4)
    if viewer.is_organiser:
        body["hidden"] = card.hidden
    return body


def project_json(row: ProjectRow, posters: list[PosterRow], viewer: Viewer) -> dict[str, Any]:
    privileged = viewer.owns(row.owner_id) or viewer.is_organiser
    body: dict[str, Any] = {
        "id": row.id,
        "event_id": row.event_id,
        "owner_id": row.owner_id,
        "title": row.title,
        "summary": row.summary,
        "themes": [t.label for t in row.themes],
        "tools": [t.label for t in row.tools],
        "organisation": row.organisation,
        "region": row.region,
        "authors": list(row.authors),
        "learnings": row.learnings,
        "questions": list(row.questions),
        "video_link": row.video_url,
        "posters": [poster_json(p) for p in posters if p.media == "poster"],
        "videos": [poster_json(p) for p in posters if p.media == "video"],
        "similar_url": f"/api/v1/projects/{row.id}/similar",
        "hidden": row.hidden,
        "can_edit": viewer.owns(row.owner_id),
        "created_at": iso(row.created_at),
        "updated_at": iso(row.updated_at),
    }
    if privileged and row.hidden:
        body["hidden_reason"] = row.hidden_reason
    return body


def facets_json(facets: Facets) -> dict[str, Any]:
    def values(items: list[FacetValue]) -> list[dict[str, Any]]:
        return [{"label": v.label, "key": v.key, "count": v.count, "selected": v.selected} for v in items]

    return {
        "themes": values(facets.themes),
        "organisations": values(facets.organisations),
        "regions": values(facets.regions),
        "tools": values(facets.tools),
        "total": facets.total,
    }
