"""HTTP entrypoints for poster files: upload (202), status, replace, reorder, delete, and the file routes.

Files are served only here, by poster id and page number, from content-addressed blobs: a user-chosen name
never becomes a path. Previews are always our own re-rendered PNGs, never the uploaded bytes.
"""

from __future__ import annotations

from typing import Annotated

from flask import Blueprint, Response, current_app, jsonify, request, send_file
from pydantic import Field
from werkzeug.exceptions import RequestEntityTooLarge

from services.posters import queries, uploads
from services.posters.adapters.storage import BlobMissing
from services.posters.domain.files import Kind
from services.posters.domain.poster import READY
from services.posters.http import limits, register_errors, search_index, storage, viewer
from services.posters.presenters import poster_json
from services.posters.tasks import enqueue
from shared.auth import require_identity
from shared.errors import ApiError, not_found
from shared.request_guards import allows_large_body
from shared.service_app import db
from shared.validation import Strict, parse_json

bp = Blueprint("posters_files", __name__, url_prefix="/api/v1")
uploads_bp = Blueprint("posters_uploads", __name__, url_prefix="/api/v1")  # rate-limited per user (POST)
register_errors(bp)
register_errors(uploads_bp)


class PosterOrder(Strict):
    poster_ids: Annotated[list[int], Field(min_length=1, max_length=100)]


def _read_upload() -> uploads.Upload:
    try:
        files = request.files.getlist("file")
    except RequestEntityTooLarge:
        raise ApiError(413, "file_too_large", "the file is larger than any accepted upload", "file") from None
    if len(files) != 1:
        raise ApiError(400, "invalid", "send exactly one file in the multipart field 'file'", "file")
    cap = max(limits().max_poster_bytes, limits().max_video_bytes)
    data = files[0].stream.read(cap + 1)  # one byte over the cap is enough to refuse it
    return uploads.Upload(file_name=files[0].filename, data=data)


def _accepted(row) -> tuple[Response, int, dict[str, str]]:  # type: ignore[no-untyped-def]
    enqueue(current_app, row.id)
    return jsonify(poster_json(row)), 202, {"Location": f"/api/v1/posters/{row.id}"}


@uploads_bp.post("/projects/<int:project_id>/posters")
@allows_large_body
@require_identity()
def upload_poster(project_id: int):  # type: ignore[no-untyped-def]
    me = viewer()
    uploads.check_may_upload(db(), me, project_id)
    row = uploads.accept_upload(db(), storage(), limits(), me, project_id, _read_upload())
    return _accepted(row)


@uploads_bp.post("/posters/<int:poster_id>/replace")
@allows_large_body
@require_identity()
def replace_poster(poster_id: int):  # type: ignore[no-untyped-def]
    me = viewer()
    old, project = uploads.poster_for(db(), me, poster_id)
    uploads.check_may_upload(db(), me, project.id)
    row = uploads.accept_upload(db(), storage(), limits(), me, project.id, _read_upload(), replaces_id=old.id)
    return _accepted(row)


@bp.get("/projects/<int:project_id>/posters")
@require_identity()
def list_posters(project_id: int):  # type: ignore[no-untyped-def]
    _, posters = queries.project_page(db(), viewer(), project_id)
    return jsonify({"items": [poster_json(p) for p in posters]})


@bp.put("/projects/<int:project_id>/posters/order")
@require_identity()
def reorder_posters(project_id: int):  # type: ignore[no-untyped-def]
    body = parse_json(PosterOrder)
    uploads.reorder(db(), viewer(), project_id, body.poster_ids)
    _, posters = queries.project_page(db(), viewer(), project_id)
    return jsonify({"items": [poster_json(p) for p in posters]})


@bp.get("/posters/<int:poster_id>")
@require_identity()
def get_poster(poster_id: int):  # type: ignore[no-untyped-def]
    row, _ = uploads.poster_for(db(), viewer(), poster_id)
    return jsonify(poster_json(row))


@bp.delete("/posters/<int:poster_id>")
@require_identity()
def delete_poster(poster_id: int):  # type: ignore[no-untyped-def]
    uploads.delete_poster(db(), storage(), search_index(), viewer(), poster_id)
    return "", 204


# --- files ----------------------------------------------------------------------------------------------
def _send(sha: str | None, mimetype: str, download_name: str) -> Response:
    if not sha:
        raise not_found("file")
    try:
        size = storage().size(sha)
        handle = storage().open(sha)
    except BlobMissing:
        raise not_found("file") from None
    response = send_file(handle, mimetype=mimetype, download_name=download_name, conditional=False, etag=sha)
    # ETag and Range by hand: send_file cannot tell the length of an open file, and video needs byte ranges.
    response.content_length = size
    response.make_conditional(request, accept_ranges=True, complete_length=size)
    response.headers["Cache-Control"] = "private, max-age=3600"  # behind auth: no shared caches
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


def _ready_poster(poster_id: int):  # type: ignore[no-untyped-def]
    row, _ = uploads.poster_for(db(), viewer(), poster_id)
    if row.status != READY:
        raise not_found("file")
    return row


@bp.get("/posters/<int:poster_id>/thumbnail.png")
@require_identity()
def poster_thumbnail(poster_id: int):  # type: ignore[no-untyped-def]
    row = _ready_poster(poster_id)
    return _send(row.thumbnail_sha, "image/png", f"poster-{row.id}-thumbnail.png")


@bp.get("/posters/<int:poster_id>/pages/<int:number>.png")
@require_identity()
def poster_page(poster_id: int, number: int):  # type: ignore[no-untyped-def]
    row = _ready_poster(poster_id)
    page = next((p for p in row.pages if p.number == number), None)
    if page is None:
        raise not_found("page")
    return _send(page.sha, "image/png", f"poster-{row.id}-page-{number}.png")


@bp.get("/posters/<int:poster_id>/video")
@require_identity()
def poster_video(poster_id: int):  # type: ignore[no-untyped-def]
    row = _ready_poster(poster_id)
    if row.media != "video":
        raise not_found("video")
    kind = Kind(row.kind)
    return _send(row.blob_sha, kind.mime, f"project-{row.project_id}-video.{kind.value}")
