"""Profiles, the people directory and contacts in the browser.

- "My profile" (/me/profile): each field with its own "who can see it" choice, a preview of what people at my
  events and organisers see, the log of consent changes, and "Hide everything" (withdraw all).
- "People" of a day (/events/<e>/people): search and filters (a GET form, works without JavaScript), cards with
  only what each person allowed the viewer, and "Ask to connect" with a short message.
- "Contacts" (/me/contacts): requests waiting for my answer (accept / decline), my contacts, requests I sent.

Thin like the other pages: they render what the matching API answers for the signed-in user (matching decides
what anyone may see); static/directory.js makes every change through the same /api/v1 a script client uses, with
the CSRF header (window.insightApi from app.js).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, render_template, request
from flask_login import current_user, login_required

from services.gateway.pages.setup import event_or_error, matching
from services.gateway.web_posters import Upstream, _unavailable

bp = Blueprint("directory_pages", __name__)

FIELD_ORDER = ("role", "organisation", "region", "tools", "interests", "projects", "bio")
LABELS = {
    "role": "Role",
    "organisation": "Organisation",
    "region": "Region",
    "tools": "Tools",
    "interests": "Interests",
    "projects": "Projects",
    "bio": "Short bio",
}
WHO = (
    ("everyone", "Everyone at my events"),
    ("organisers", "Organisers only"),
    ("nobody", "Nobody"),
)
FILTERS = (("interest", "Interest"), ("tool", "Tool"), ("organisation", "Organisation"), ("region", "Region"))


def _text(value: Any) -> str:
    return ", ".join(value) if isinstance(value, list) else str(value)


@bp.app_template_filter("profile_lines")
def profile_lines(fields: dict[str, Any]) -> list[tuple[str, str]]:
    """A card's visible fields in a fixed order, as (label, text)."""
    return [(LABELS[name], _text(fields[name])) for name in FIELD_ORDER if fields.get(name)]


@bp.get("/me/profile")
@login_required
def profile_page():  # type: ignore[no-untyped-def]
    try:
        profile = matching("/api/v1/me/profile")
    except Upstream:
        return _unavailable()
    return render_template(
        "directory/profile.html",
        profile=profile,
        order=FIELD_ORDER,
        who=WHO,
        who_names=dict(WHO),
        labels=LABELS,
        is_organiser=current_user.account.has_role("organiser"),
    )


def _filters() -> dict[str, str]:
    return {name: request.args.get(name, "").strip()[:300] for name in ("q", *(f for f, _ in FILTERS))}


def _page() -> int:
    try:
        return max(1, min(int(request.args.get("page", "1")), 10_000))
    except ValueError:
        return 1


@bp.get("/events/<int:event_id>/people")
@login_required
def people_page(event_id: int):  # type: ignore[no-untyped-def]
    event, error = event_or_error(event_id)
    if error is not None:
        return error
    chosen = _filters()
    page = _page()
    problem = None
    try:
        found = matching(f"/api/v1/events/{event_id}/people", {**chosen, "page": page})
    except Upstream as exc:
        if exc.status == 403:
            return render_template("directory/not_registered.html", event=event), 403
        if exc.status != 400:
            return _unavailable()
        problem = exc.message or "Please check the search."
        found = {"items": [], "total": 0, "page": 1, "pages": 1, "facets": {}, "registered": 0}
    facets = {}
    for param, _ in FILTERS:
        values = [f["value"] for f in found.get("facets", {}).get(param, [])]
        if chosen[param] and chosen[param] not in values:
            values.insert(0, chosen[param])  # keep what was asked for selectable, even if nobody shows it
        facets[param] = values

    def page_link(number: int) -> str:
        query = {k: v for k, v in chosen.items() if v}
        if number > 1:
            query["page"] = str(number)
        return f"/events/{event_id}/people" + (f"?{urlencode(query)}" if query else "")

    return render_template(
        "directory/people.html",
        event=event,
        found=found,
        chosen=chosen,
        filters=FILTERS,
        facets=facets,
        filtering=any(chosen.values()),
        problem=problem,
        previous_link=page_link(found["page"] - 1) if found["page"] > 1 else None,
        next_link=page_link(found["page"] + 1) if found["page"] < found["pages"] else None,
    )


@bp.get("/me/contacts")
@login_required
def contacts_page():  # type: ignore[no-untyped-def]
    try:
        found = matching("/api/v1/me/contact-requests")
    except Upstream:
        return _unavailable()
    return render_template("directory/contacts.html", found=found)
