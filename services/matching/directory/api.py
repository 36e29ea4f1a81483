"""HTTP API of profiles, the people directory and contact requests (reached through the gateway at /api/v1).

GET  /me/profile                             my profile: each field's value and visibility, previews, consent log
PUT  /me/profile                             {field: {value?, visibility?}, ...} changes only the fields given
GET  /events/{e}/people?q=&interest=&tool=&organisation=&region=&page=
                                             people registered for the day, only what each allowed the viewer
POST /events/{e}/people/{user_id}/contact-requests {message} -> 201
GET  /me/contact-requests                    {incoming, outgoing, contacts}
POST /contact-requests/{id}/accept|decline   the person asked answers
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from flask import Blueprint, jsonify, request
from pydantic import Field

from services.matching.directory import domain, service
from services.matching.directory.service import FieldChange, RequestView, Viewer
from services.matching.registration.service import Person
from services.matching.service import NotFound
from services.matching.setup.domain import Refused, utc
from shared.auth import current_identity, require_identity
from shared.errors import ApiError, error_response, not_found
from shared.service_app import db
from shared.validation import Strict, int_arg, parse_json

bp = Blueprint("matching_directory", __name__, url_prefix="/api/v1")

Visibility = Literal["everyone", "organisers", "nobody"]


@bp.errorhandler(Refused)
def _refused(exc: Refused):  # type: ignore[no-untyped-def]
    return error_response(ApiError(exc.status, exc.code, exc.message, exc.field))


@bp.errorhandler(NotFound)
def _not_found(exc: NotFound):  # type: ignore[no-untyped-def]
    what = str(exc)
    return error_response(not_found("event" if what.startswith("event ") else what))


class FieldBody(Strict):
    value: Any = None  # text, or a list of texts for tools, interests and projects: domain.clean_value checks it
    visibility: Visibility | None = None


class ProfileBody(Strict):
    role: FieldBody | None = None
    organisation: FieldBody | None = None
    region: FieldBody | None = None
    tools: FieldBody | None = None
    interests: FieldBody | None = None
    projects: FieldBody | None = None
    bio: FieldBody | None = None


class ContactBody(Strict):
    message: Annotated[str, Field(min_length=1, max_length=300)]


def _viewer() -> Viewer:
    identity = current_identity()
    assert identity is not None  # require_identity ran first
    person = Person(identity.user_id, identity.email, identity.display_name, identity.organisation, identity.region)
    return Viewer(person, identity.has_role("organiser"))


def _value(value: domain.Value) -> str | list[str]:
    return list(value) if isinstance(value, tuple) else value


def profile_json(view: service.ProfileView) -> dict[str, Any]:
    return {
        "user_id": view.user_id,
        "display_name": view.display_name,
        "saved": view.saved,
        "updated_at": utc(view.updated_at).isoformat() if view.updated_at else None,
        "fields": {
            name: {
                "label": label,
                "value": _value(view.profile.values.get(name, domain.empty_value(name))),
                "visibility": view.profile.visibility[name],
                "list": is_list,
                "max_entries": most if is_list else None,
                "max_length": longest,
            }
            for name, (label, is_list, most, longest) in domain.FIELDS.items()
        },
        "visibilities": list(domain.VISIBILITIES),
        "defaults": dict(domain.DEFAULT_VISIBILITY),
        # what others see of me right now: people at my events, and organisers
        "preview": {
            "everyone": {k: _value(v) for k, v in domain.redact(view.profile, False).items()},
            "organisers": {k: _value(v) for k, v in domain.redact(view.profile, True).items()},
        },
        "history": [
            {"field": c.field, "visibility": c.visibility, "changed_at": utc(c.changed_at).isoformat()}
            for c in view.history
        ],
    }


@bp.get("/me/profile")
@require_identity()
def get_profile():  # type: ignore[no-untyped-def]
    return jsonify(profile_json(service.get_profile(db(), _viewer().person)))


@bp.put("/me/profile")
@require_identity()
def put_profile():  # type: ignore[no-untyped-def]
    body = parse_json(ProfileBody)
    changes = {
        name: FieldChange(part.value, part.visibility)
        for name in domain.FIELDS
        if (part := getattr(body, name)) is not None
    }
    return jsonify(profile_json(service.save_profile(db(), _viewer().person, changes)))


def _contact_json(contact: service.Contact) -> dict[str, Any]:
    return {"status": contact.status, "request_id": contact.request_id}


@bp.get("/events/<int:event_id>/people")
@require_identity()
def people(event_id: int):  # type: ignore[no-untyped-def]
    filters = domain.check_filters(request.args)
    page = int_arg("page", 1)
    viewer = _viewer()
    found = service.search(db(), event_id, viewer, filters, page)
    return jsonify(
        {
            "items": [
                {**service.card_json(card), "contact": _contact_json(found.contacts[card.user_id])}
                for card in found.cards
            ],
            "total": found.total,
            "registered": found.everyone,
            "page": found.page,
            "pages": found.pages,
            "per_page": domain.PER_PAGE,
            "facets": found.facets,
            "viewer_is_organiser": viewer.organiser,
        }
    )


def _request_json(view: RequestView, me: int) -> dict[str, Any]:
    row = view.request
    return {
        "id": row.id,
        "event_id": row.event_id,
        "event_title": view.event_title,
        "status": row.status,
        "direction": "outgoing" if row.requester_id == me else "incoming",
        "message": row.message,
        "created_at": utc(row.created_at).isoformat(),
        "answered_at": utc(row.answered_at).isoformat() if row.answered_at else None,
        "person": service.card_json(view.other),
    }


@bp.post("/events/<int:event_id>/people/<int:user_id>/contact-requests")
@require_identity()
def ask_to_connect(event_id: int, user_id: int):  # type: ignore[no-untyped-def]
    body = parse_json(ContactBody)
    viewer = _viewer()
    row = service.request_contact(db(), event_id, viewer, user_id, body.message)
    return jsonify(
        {
            "id": row.id,
            "event_id": row.event_id,
            "recipient_id": row.recipient_id,
            "status": row.status,
            "message": row.message,
            "created_at": utc(row.created_at).isoformat(),
        }
    ), 201


@bp.get("/me/contact-requests")
@require_identity()
def my_requests():  # type: ignore[no-untyped-def]
    viewer = _viewer()
    found = service.my_requests(db(), viewer)
    return jsonify(
        {
            "incoming": [_request_json(v, viewer.user_id) for v in found.incoming],
            "outgoing": [_request_json(v, viewer.user_id) for v in found.outgoing],
            "contacts": [_request_json(v, viewer.user_id) for v in found.contacts],
        }
    )


def _answer(request_id: int, accept: bool):  # type: ignore[no-untyped-def]
    row = service.answer(db(), request_id, _viewer().user_id, accept=accept)
    return jsonify({"id": row.id, "status": row.status, "answered_at": utc(row.answered_at).isoformat()})  # type: ignore[arg-type]


@bp.post("/contact-requests/<int:request_id>/accept")
@require_identity()
def accept(request_id: int):  # type: ignore[no-untyped-def]
    return _answer(request_id, True)


@bp.post("/contact-requests/<int:request_id>/decline")
@require_identity()
def decline(request_id: int):  # type: ignore[no-untyped-def]
    return _answer(request_id, False)
