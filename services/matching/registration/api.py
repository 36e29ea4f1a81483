"""HTTP API of registrations (reached through the gateway at /api/v1/events/{e}/...): an attendee's own
registration; for organisers the list, the CSV export and the CSV import."""

from __future__ import annotations

from typing import Annotated, Any

from flask import Blueprint, Response, jsonify, request
from pydantic import Field

from services.matching.registration import domain, service
from services.matching.registration.models import PersonCopy, Registration
from services.matching.service import NotFound
from services.matching.setup.domain import Refused, utc
from shared.auth import current_identity, require_identity
from shared.errors import ApiError, error_response, not_found
from shared.request_guards import allows_large_body
from shared.service_app import db
from shared.validation import Strict, int_arg, parse_json

bp = Blueprint("matching_registration", __name__, url_prefix="/api/v1")

Entry = Annotated[str, Field(max_length=400)]


@bp.errorhandler(Refused)
def _refused(exc: Refused):  # type: ignore[no-untyped-def]
    return error_response(ApiError(exc.status, exc.code, exc.message, exc.field))


@bp.errorhandler(NotFound)
def _not_found(exc: NotFound):  # type: ignore[no-untyped-def]
    return error_response(not_found(str(exc).split(" ", 1)[0]))  # "event" or "registration"


class RegistrationBody(Strict):
    themes: Annotated[list[Entry], Field(max_length=50)]
    tools: Annotated[list[Entry], Field(max_length=100)] = []
    interests: Annotated[list[Entry], Field(max_length=100)] = []


def registration_json(
    row: Registration, person: PersonCopy | None = None, *, with_person: bool = False
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "event_id": row.event_id,
        "user_id": row.user_id,
        "themes": list(row.themes or []),
        "tools": list(row.tools or []),
        "interests": list(row.interests or []),
        "source": row.source,
        "updated_at": utc(row.updated_at).isoformat(),
    }
    if with_person:  # organisers' list: who it is (None while matching has not heard of the person yet)
        data.update(
            email=person.email if person else None,
            display_name=person.display_name if person else None,
            organisation=person.organisation if person else None,
            region=person.region if person else None,
        )
    return data


def _caller() -> service.Person:
    identity = current_identity()
    assert identity is not None  # require_identity ran first
    return service.Person(
        identity.user_id, identity.email, identity.display_name, identity.organisation, identity.region
    )


@bp.get("/events/<int:event_id>/registration")
@require_identity()
def get_registration(event_id: int):  # type: ignore[no-untyped-def]
    return jsonify(registration_json(service.get_registration(db(), event_id, _caller().user_id)))


@bp.put("/events/<int:event_id>/registration")
@require_identity()
def put_registration(event_id: int):  # type: ignore[no-untyped-def]
    body = parse_json(RegistrationBody)
    row = service.register(db(), event_id, _caller(), body.themes, body.tools, body.interests)
    return jsonify(registration_json(row))


@bp.delete("/events/<int:event_id>/registration")
@require_identity()
def delete_registration(event_id: int):  # type: ignore[no-untyped-def]
    service.withdraw(db(), event_id, _caller().user_id)
    return "", 204


@bp.get("/events/<int:event_id>/registrations")
@require_identity("organiser")
def list_registrations(event_id: int):  # type: ignore[no-untyped-def]
    page, per_page = int_arg("page", 1), int_arg("per_page", 50, maximum=500)
    listed, total = service.list_registrations(db(), event_id, page, per_page)
    return jsonify(
        {
            "items": [registration_json(i.registration, i.person, with_person=True) for i in listed],
            "total": total,
            "page": page,
            "pages": max(1, -(-total // per_page)),
        }
    )


@bp.get("/events/<int:event_id>/registrations.csv")
@require_identity("organiser")
def export_registrations(event_id: int):  # type: ignore[no-untyped-def]
    text = domain.write_csv(service.export_rows(db(), event_id))
    return Response(
        "\ufeff" + text,  # the BOM makes spreadsheets read UTF-8 (names with accents)
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="insight-day-{event_id}-registrations.csv"',
            "Cache-Control": "no-store",
        },
    )


@bp.post("/events/<int:event_id>/registrations/import")
@allows_large_body
@require_identity("organiser")
def import_registrations(event_id: int):  # type: ignore[no-untyped-def]
    """A CSV file as multipart `file` or as the body (Content-Type text/csv). Bad rows: 400, nothing imported,
    `errors` lists each problem as {row, column, message} (row numbers as in the file, the header is row 1)."""
    upload = request.files.get("file")
    if upload is not None:
        data = upload.read(domain.MAX_IMPORT_BYTES + 1)
    elif request.mimetype in ("text/csv", "text/plain", "application/csv"):
        data = request.get_data(cache=False)
    else:
        raise ApiError(400, "invalid", "send the CSV file as multipart field `file` (or as a text/csv body)", "file")
    try:
        outcome = service.import_csv(db(), event_id, data)
    except service.ImportRefused as exc:
        rows = sorted({e.row for e in exc.errors})
        message = (
            f"nothing was imported: {len(exc.errors)} problem{'s' if len(exc.errors) != 1 else ''} "
            f"on row{'s' if len(rows) != 1 else ''} {', '.join(map(str, rows))}"
        )
        body = ApiError(400, "invalid_csv", message, "file").body()
        return jsonify({**body, "errors": [e.as_json() for e in exc.errors]}), 400
    return jsonify(
        {"imported": outcome.created + outcome.updated, "created": outcome.created, "updated": outcome.updated}
    )
