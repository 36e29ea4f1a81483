"""HTTP entrypoints for projects: create/edit/delete, gallery and search, similar, moderation."""

from __future__ import annotations

from typing import Annotated, Any

from flask import Blueprint, current_app, jsonify, request
from pydantic import AnyHttpUrl, Field, field_validator

from services.posters import queries, service, uploads
from services.posters.http import register_errors, search_index, storage, viewer
from services.posters.presenters import card_json, facets_json, iso, project_json
from services.posters.qa.service import record_view
from shared.auth import require_identity
from shared.errors import ApiError
from shared.service_app import db
from shared.validation import Strict, int_arg, parse_json

bp = Blueprint("posters_projects", __name__, url_prefix="/api/v1")
register_errors(bp)

Title = Annotated[str, Field(min_length=3, max_length=200)]
Summary = Annotated[str, Field(min_length=1, max_length=5000)]
Label = Annotated[str, Field(min_length=1, max_length=100)]
Learning = Annotated[str, Field(min_length=1, max_length=1000)]
Question = Annotated[str, Field(min_length=1, max_length=500)]
Person = Annotated[str, Field(min_length=1, max_length=200)]
Themes = Annotated[list[Label], Field(min_length=1, max_length=8)]
Learnings = Annotated[list[Learning], Field(min_length=3, max_length=3)]
Questions = Annotated[list[Question], Field(max_length=5)]
Tools = Annotated[list[Label], Field(max_length=20)]
Authors = Annotated[list[Person], Field(min_length=1, max_length=20)]
Organisation = Annotated[str, Field(max_length=200)]
Region = Annotated[str, Field(max_length=100)]
VideoLink = Annotated[AnyHttpUrl, Field(max_length=500)]


def _https_only(value: AnyHttpUrl | None) -> AnyHttpUrl | None:
    if value is not None and value.scheme != "https":
        raise ValueError("video links must use https")
    return value


def _one_question(value: object) -> object:
    # A single question sent as a string is one question, not a type error.
    return [value] if isinstance(value, str) else value


class NewProject(Strict):
    title: Title
    summary: Summary
    themes: Themes
    learnings: Learnings
    questions: Questions = []
    tools: Tools = []
    organisation: Organisation | None = None
    region: Region | None = None
    authors: Authors | None = None
    video_url: VideoLink | None = None

    _https = field_validator("video_url")(_https_only)
    _questions = field_validator("questions", mode="before")(_one_question)


class ProjectEdit(Strict):
    title: Title | None = None
    summary: Summary | None = None
    themes: Themes | None = None
    learnings: Learnings | None = None
    questions: Questions | None = None
    tools: Tools | None = None
    organisation: Organisation | None = None
    region: Region | None = None
    authors: Authors | None = None
    video_url: VideoLink | None = None

    _https = field_validator("video_url")(_https_only)
    _questions = field_validator("questions", mode="before")(_one_question)


class HideBody(Strict):
    reason: Annotated[str, Field(max_length=500)] | None = None


def _input(body: NewProject) -> service.ProjectInput:
    data = body.model_dump()
    data["video_url"] = str(body.video_url) if body.video_url else None
    return service.ProjectInput(**data)


@bp.post("/events/<int:event_id>/projects")
@require_identity("author", "organiser")
def create_project(event_id: int):  # type: ignore[no-untyped-def]
    body = parse_json(NewProject)
    row = service.create_project(
        db(), search_index(), viewer(), event_id, _input(body), max_projects=current_app.config["MAX_PROJECTS_PER_USER"]
    )
    _, posters = queries.project_page(db(), viewer(), row.id)
    return jsonify(project_json(row, posters, viewer())), 201, {"Location": f"/api/v1/projects/{row.id}"}


@bp.get("/projects/<int:project_id>")
@require_identity()
def get_project(project_id: int):  # type: ignore[no-untyped-def]
    row, posters = queries.project_page(db(), viewer(), project_id)
    record_view(db(), viewer(), row)  # the first open per person announces ProjectViewed
    return jsonify(project_json(row, posters, viewer()))


@bp.patch("/projects/<int:project_id>")
@require_identity()
def edit_project(project_id: int):  # type: ignore[no-untyped-def]
    body = parse_json(ProjectEdit)
    changes = body.model_dump(exclude_unset=True)
    for key in ("title", "summary", "themes", "learnings"):  # required fields can change, not disappear
        if key in changes and changes[key] is None:
            raise ApiError(400, "invalid", f"{key} cannot be removed", key)
    if "video_url" in changes and body.video_url is not None:
        changes["video_url"] = str(body.video_url)
    row = service.update_project(db(), search_index(), viewer(), project_id, changes)
    _, posters = queries.project_page(db(), viewer(), row.id)
    return jsonify(project_json(row, posters, viewer()))


@bp.delete("/projects/<int:project_id>")
@require_identity()
def delete_project(project_id: int):  # type: ignore[no-untyped-def]
    service.delete_project(db(), storage(), search_index(), viewer(), project_id)
    return "", 204


@bp.get("/me/projects")
@require_identity()
def my_projects():  # type: ignore[no-untyped-def]
    me = viewer()
    return jsonify({"items": [project_json(r, [], me) for r in queries.my_projects(db(), me)]})


def _text_arg(name: str, maximum: int) -> str:
    value = request.args.get(name, "").strip()
    if len(value) > maximum:
        raise ApiError(400, "invalid", f"{name} is longer than {maximum} characters", name)
    return value


def _search_args() -> dict[str, Any]:
    """The gallery's search and filters, as the gallery and its facets both read them."""
    return {
        "q": _text_arg("q", 200),
        "theme": _text_arg("theme", 100),
        "organisation": _text_arg("organisation", 200),
        "region": _text_arg("region", 100),
        "tool": _text_arg("tool", 100),
        "include_hidden": request.args.get("include_hidden", "") in ("1", "true", "yes"),  # organisers only
    }


@bp.get("/events/<int:event_id>/posters")
@bp.get("/events/<int:event_id>/projects")
@require_identity()
def gallery(event_id: int):  # type: ignore[no-untyped-def]
    sort = request.args.get("sort", "relevance")
    if sort not in ("relevance", "recent"):
        raise ApiError(400, "invalid", "sort must be relevance or recent", "sort")
    query = queries.GalleryQuery(
        **_search_args(),
        sort=sort,
        page=int_arg("page", 1, maximum=10_000),
        per_page=int_arg("per_page", 20, maximum=50),
    )
    me = viewer()
    result = queries.gallery(db(), search_index(), me, event_id, query)
    return jsonify(
        {
            "items": [card_json(c, me) for c in result.cards],
            "total": result.total,
            "page": result.page,
            "per_page": result.per_page,
            "pages": result.pages,
            "sort": "recent" if not query.q else query.sort,
        }
    )


@bp.get("/events/<int:event_id>/facets")
@require_identity()
def gallery_facets(event_id: int):  # type: ignore[no-untyped-def]
    query = queries.GalleryQuery(**_search_args())
    return jsonify(facets_json(queries.facets(db(), search_index(), viewer(), event_id, query)))


@bp.get("/projects/<int:project_id>/similar")
@require_identity()
def similar_projects(project_id: int):  # type: ignore[no-untyped-def]
    me = viewer()
    found = queries.similar(db(), me, project_id, int_arg("limit", 5, maximum=20))
    return jsonify({"items": [{**card_json(card, me), "similarity": round(score, 4)} for card, score in found]})


@bp.post("/projects/<int:project_id>/hide")
@require_identity("organiser")
def hide_project(project_id: int):  # type: ignore[no-untyped-def]
    body = parse_json(HideBody) if request.content_length else HideBody()
    row = service.set_hidden(db(), viewer(), project_id, True, body.reason)
    return jsonify({"id": row.id, "hidden": row.hidden, "hidden_reason": row.hidden_reason})


@bp.post("/projects/<int:project_id>/unhide")
@require_identity("organiser")
def unhide_project(project_id: int):  # type: ignore[no-untyped-def]
    row = service.set_hidden(db(), viewer(), project_id, False, None)
    return jsonify({"id": row.id, "hidden": row.hidden})


@bp.get("/events/<int:event_id>/upload-failures")
@require_identity("organiser")
def upload_failures(event_id: int):  # type: ignore[no-untyped-def]
    page = int_arg("page", 1)
    per_page = int_arg("per_page", 50, maximum=200)
    rows, total = uploads.upload_failures(db(), viewer(), event_id, page, per_page)
    return jsonify(
        {
            "items": [
                {
                    "poster_id": p.id,
                    "project_id": project.id,
                    "project_title": project.title,
                    "owner_id": p.owner_id,
                    "file_name": p.file_name,
                    "kind": p.kind,
                    "byte_size": p.byte_size,
                    "reason": p.reason,
                    "uploaded_at": iso(p.created_at),
                    "rejected_at": iso(p.processed_at),
                }
                for p, project in rows
            ],
            "total": total,
            "page": page,
            "per_page": per_page,
        }
    )
