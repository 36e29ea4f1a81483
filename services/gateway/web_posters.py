"""Poster pages: an insight day's gallery, a project page, an organiser's upload failures.

Thin on purpose: each page fetches what it shows from the owning service's API (as the signed-in user, so the
service decides what they may see) and renders it; everything that changes data is done by static/posters.js
calling the same /api/v1 a script client would use.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

from flask import Blueprint, g, render_template, request
from flask_login import current_user, login_required

from services.gateway.auth import identity_header
from services.gateway.proxy import call
from shared.auth import HEADER
from shared.errors import ApiError

bp = Blueprint("posters_web", __name__)

FILTERS = ("theme", "organisation", "region", "tool")
PER_PAGE = 12
FACET_KEYS = {"theme": "themes", "organisation": "organisations", "region": "regions", "tool": "tools"}  # API names


class Upstream(Exception):
    """A service call that did not give the page what it needs (status is the upstream's, 502 if unreachable)."""

    def __init__(self, status: int, message: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _get(service: str, path: str, params: dict[str, Any] | None = None) -> Any:
    query = urlencode({k: v for k, v in (params or {}).items() if v not in ("", None)})
    headers = {
        HEADER: identity_header(current_user.account, service),
        "X-Request-Id": g.request_id,
        "Accept": "application/json",
    }
    try:
        with call(service, "GET", path + (f"?{query}" if query else ""), headers, None) as response:
            if response.status_code != 200:
                message = ""
                if "json" in response.headers.get("Content-Type", ""):
                    message = (response.json().get("error") or {}).get("message", "")
                raise Upstream(response.status_code, message)
            return response.json()
    except ApiError as exc:  # unreachable or timed out
        raise Upstream(exc.status, exc.message) from None


def _error_page(status: int, title: str, message: str):  # type: ignore[no-untyped-def]
    return render_template("error.html", title=title, message=message), status


def _unavailable():  # type: ignore[no-untyped-def]
    return _error_page(503, "Please try again", "This page cannot be shown right now. Please try again in a moment.")


def _has_role(*roles: str) -> bool:
    return any(current_user.account.has_role(r) for r in roles)


def _filters() -> dict[str, str]:
    """The gallery's query as the user gave it (bounded; the API checks the rest)."""
    values = {name: request.args.get(name, "").strip()[:200] for name in ("q", *FILTERS)}
    values["sort"] = "recent" if request.args.get("sort") == "recent" else "relevance"
    return values


def _page_arg() -> int:
    try:
        return max(1, min(int(request.args.get("page", "1")), 10_000))
    except ValueError:
        return 1


def _facets(event_id: int, chosen: dict[str, str], include_hidden: bool, ask: bool) -> dict[str, list[dict[str, Any]]]:
    """Each filter's choices with their counts for the current search (the posters facets API), so the form works
    without JavaScript too; static/posters.js refreshes them as the user changes the search or a filter."""
    params = {**{name: chosen[name] for name in ("q", *FILTERS)}, "include_hidden": "1" if include_hidden else ""}
    found: dict[str, Any] = {}
    if ask:  # not when the gallery call failed: the page already says why, and this one would fail alike
        try:
            found = _get("posters", f"/api/v1/events/{event_id}/facets", params)
        except Upstream:
            pass  # choices without counts: the chosen values below stay selectable
    facets: dict[str, list[dict[str, Any]]] = {}
    for name in FILTERS:
        values = [
            {"label": str(v["label"]), "count": int(v["count"]), "selected": bool(v.get("selected"))}
            for v in found.get(FACET_KEYS[name], [])
            if isinstance(v, dict) and v.get("label")
        ]
        if chosen[name] and not any(v["selected"] for v in values):
            values.append({"label": chosen[name], "count": None, "selected": True})
        facets[name] = values
    return facets


@bp.get("/events/<int:event_id>")
@login_required
def event_page(event_id: int):  # type: ignore[no-untyped-def]
    try:
        event = _get("matching", f"/api/v1/events/{event_id}")
    except Upstream as exc:
        if exc.status == 404:
            return _error_page(404, "Not found", "There is no such insight day.")
        return _unavailable()
    chosen = _filters()
    page = _page_arg()
    organiser = _has_role("organiser")
    params = {**chosen, "page": page, "per_page": PER_PAGE, "include_hidden": "1" if organiser else ""}
    gallery: dict[str, Any] | None = None
    notice = None
    try:
        gallery = _get("posters", f"/api/v1/events/{event_id}/posters", params)
    except Upstream as exc:
        if exc.status == 404:  # the posters service learns of new days from the event bus, a moment later
            notice = "Projects for this insight day are being set up. Please refresh in a moment."
        elif exc.status == 400:
            notice = f"That search could not be run: {exc.message or 'check the search and filters'}."
        else:
            return _unavailable()

    def link(**changes: Any) -> str:
        """This page's URL with some of the query changed, so every view of the gallery can be shared."""
        query = {**chosen, "page": page, **changes}
        if query.get("page") == 1:
            query["page"] = ""
        if query.get("sort") == "relevance":
            query["sort"] = ""
        return f"/events/{event_id}" + (
            "?" + urlencode({k: v for k, v in query.items() if v not in ("", None)}) if any(query.values()) else ""
        )

    return render_template(
        "posters/event.html",
        event=event,
        gallery=gallery,
        notice=notice,
        chosen=chosen,
        filtering=any(chosen[name] for name in ("q", *FILTERS)),
        facets=_facets(event_id, chosen, organiser, ask=gallery is not None),
        link=link,
        can_create=_has_role("author", "organiser"),
        is_organiser=organiser,
        account=current_user.account,
    )


@bp.get("/events/<int:event_id>/upload-failures")
@login_required
def upload_failures(event_id: int):  # type: ignore[no-untyped-def]
    if not _has_role("organiser"):
        return _error_page(403, "Organisers only", "Only organisers can see upload failures.")
    page = _page_arg()
    try:
        event = _get("matching", f"/api/v1/events/{event_id}")
        failures = _get("posters", f"/api/v1/events/{event_id}/upload-failures", {"page": page, "per_page": 50})
    except Upstream as exc:
        if exc.status == 404:
            return _error_page(404, "Not found", "There is no such insight day, or it has no projects yet.")
        return _unavailable()
    pages = max(1, -(-int(failures.get("total", 0)) // 50))
    return render_template("posters/failures.html", event=event, failures=failures, page=page, pages=pages)


@bp.get("/projects/<int:project_id>")
@login_required
def project_page(project_id: int):  # type: ignore[no-untyped-def]
    try:
        project = _get("posters", f"/api/v1/projects/{project_id}")
    except Upstream as exc:
        if exc.status == 404:
            return _error_page(404, "Not found", "There is no such project, or it is not shown at the moment.")
        return _unavailable()
    try:
        event = _get("matching", f"/api/v1/events/{int(project['event_id'])}")
    except Upstream:
        event = None  # the breadcrumb can do without the day's title
    try:
        similar = _get("posters", f"/api/v1/projects/{project_id}/similar", {"limit": 5}).get("items", [])
    except Upstream:
        similar = []
    return render_template(
        "posters/project.html",
        project=project,
        event=event,
        similar=similar,
        is_organiser=_has_role("organiser"),
        api_project=f"/api/v1/projects/{quote(str(project_id))}",
    )
