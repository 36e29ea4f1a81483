"""The outcome report over HTTP (through the gateway at /api/v1): JSON for the page and scripts, CSV for export.
Only the day's own organiser sees it; every figure below 5 people is null in JSON and "<5" in the CSV."""

from __future__ import annotations

import csv
import io
from typing import Any

from flask import Blueprint, Response, jsonify, request

from services.matching.outcomes import service
from services.matching.outcomes.domain import ALL
from services.matching.service import NotFound
from shared.auth import current_identity, require_identity
from shared.errors import ApiError, error_response, not_found
from shared.service_app import db

bp = Blueprint("outcomes", __name__, url_prefix="/api/v1")


@bp.errorhandler(NotFound)
def _not_found(exc: NotFound):  # type: ignore[no-untyped-def]
    return error_response(not_found(str(exc)))


def _filters() -> service.Filters:
    values = {}
    for name in ("region", "newcomer", "org_size"):
        raw = request.args.get(name, ALL) or ALL
        if len(raw) > 120:
            raise ApiError(400, "invalid", f"{name} is too long", name)
        values[name] = raw
    return service.Filters(**values)


def _report(event_id: int) -> dict[str, Any]:
    identity = current_identity()
    assert identity is not None
    with db().unit_of_work() as session:
        if service.organiser_of(session, event_id) != identity.user_id:
            raise ApiError(403, "forbidden", "only the day's organiser sees its outcome report")
        try:
            return service.report(session, event_id, _filters())
        except ValueError as exc:
            field = str(exc)
            raise ApiError(400, "invalid", f"unknown {field} value", field) from None


@bp.get("/events/<int:event_id>/outcomes")
@require_identity("organiser")
def outcomes(event_id: int):  # type: ignore[no-untyped-def]
    return jsonify(_report(event_id))


def _cell(value: int | None) -> str:
    return "<5" if value is None else str(value)


@bp.get("/events/<int:event_id>/outcomes.csv")
@require_identity("organiser")
def outcomes_csv(event_id: int) -> Response:
    body = _report(event_id)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["section", "item", "column", "value"])
    filters = body["filters"]
    writer.writerow(["filters", "", "", ";".join(f"{k}={v}" for k, v in filters.items())])
    for section in ("funnel", "engagement", "coffee", "new_crossorg_contacts"):
        for item, value in body[section].items():
            writer.writerow([section, item, "", _cell(value)])
    writer.writerow(["network", "met_someone_known", "", _cell(body["met_someone_known"])])
    for row in body["regions"] or []:
        for column in ("registered", "active"):
            writer.writerow(["regions", row["region"], column, _cell(row[column])])
    for row in body["new_voices"] or []:
        for column in ("registered", "active"):
            writer.writerow(["new_voices", row["group"], column, _cell(row[column])])
    for section in ("contacts", "breakouts", "survey"):
        table = body[section]
        if table is None:
            continue
        for row in table["rows"]:
            for column in table["columns"]:
                writer.writerow([section, row["label"], column, _cell(row[column])])
    response = Response(out.getvalue(), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="outcomes-day-{event_id}.csv"'
    return response
