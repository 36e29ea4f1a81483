"""What both blueprints share: the viewer from the signed identity, and domain errors as JSON 4xx."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify

from services.posters.adapters.search import SearchIndex, index_for
from services.posters.adapters.storage import BlobStorage
from services.posters.domain.files import UploadError
from services.posters.domain.project import ProjectRuleError
from services.posters.domain.viewer import Viewer
from services.posters.service import Conflict, Forbidden, NotFound
from services.posters.settings import Limits
from shared.auth import current_identity
from shared.errors import ApiError
from shared.service_app import db


def viewer() -> Viewer:
    identity = current_identity()
    if identity is None:  # views are decorated with require_identity; this is a guard, not a path
        raise ApiError(401, "unauthenticated", "sign in first")
    return Viewer(
        user_id=identity.user_id,
        display_name=identity.display_name,
        organisation=identity.organisation,
        region=identity.region,
        is_author=identity.has_role("author"),
        is_organiser=identity.has_role("organiser"),
    )


def storage() -> BlobStorage:
    return current_app.extensions["storage"]


def search_index() -> SearchIndex:
    return index_for(db().engine.dialect.name)


def limits() -> Limits:
    return Limits.from_config(current_app.config)


def register_errors(bp: Blueprint) -> None:
    @bp.errorhandler(NotFound)
    def _not_found(exc: NotFound):  # type: ignore[no-untyped-def]
        what = str(exc) or "resource"
        field = "event_id" if what == "event" else None
        return _json(ApiError(404, "not_found", f"{what} not found", field))

    @bp.errorhandler(Forbidden)
    def _forbidden(exc: Forbidden):  # type: ignore[no-untyped-def]
        return _json(ApiError(403, "forbidden", str(exc)))

    @bp.errorhandler(Conflict)
    def _conflict(exc: Conflict):  # type: ignore[no-untyped-def]
        return _json(ApiError(409, "conflict", str(exc)))

    @bp.errorhandler(ProjectRuleError)
    def _rule(exc: ProjectRuleError):  # type: ignore[no-untyped-def]
        return _json(ApiError(400, "invalid", str(exc), exc.field))

    @bp.errorhandler(UploadError)
    def _upload(exc: UploadError):  # type: ignore[no-untyped-def]
        return _json(ApiError(exc.status, exc.code, str(exc), "file"))


def _json(err: ApiError) -> tuple[Response, int]:
    return jsonify(err.body()), err.status
