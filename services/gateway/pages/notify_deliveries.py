"""Notify's delivery pages on the gateway:

- "Mail problems" (/notify/failed-emails, organisers): mails refused for good (5xx, bad address) and mails whose
  sender died after handing them to the server (`uncertain`: maybe delivered), each with a resend button
  (static/notify_deliveries.js calls POST /api/v1/notify/emails/<id>/resend).
- The subscribable calendar feed (/calendar/<token>.ics): no session, the secret token is the key; forwarded to
  notify, which answers 404 for a tampered or revoked token.
"""

from __future__ import annotations

import re

from flask import Blueprint, Response, g, render_template, request
from flask_login import current_user, login_required

from services.gateway.proxy import call
from services.gateway.web_posters import Upstream, _error_page, _get, _unavailable

bp = Blueprint("notify_delivery_pages", __name__)

_TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,100}$")


@bp.get("/notify/failed-emails")
@login_required
def failed_emails_page():  # type: ignore[no-untyped-def]
    if not current_user.account.has_role("organiser"):
        return _error_page(403, "Organisers only", "Only organisers can see mails that did not go out.")
    page = request.args.get("page", "1")
    page = page if page.isdigit() and int(page) > 0 else "1"
    try:
        data = _get("notify", "/api/v1/notify/failed-emails", {"page": page})
    except Upstream:
        return _unavailable()
    return render_template("notify_deliveries/failed.html", items=data["items"], page=int(page), more=data["has_more"])


@bp.get("/calendar/<token>.ics")
def calendar_feed(token: str) -> Response:
    """For calendar apps: they cannot sign in, so the URL's secret is the only credential."""
    if not _TOKEN.match(token):
        return Response("not found\n", status=404, mimetype="text/plain")
    headers = {"Accept": "text/calendar", "X-Request-Id": g.request_id}
    with call("notify", "GET", f"/api/v1/calendar/{token}.ics", headers, None) as upstream:
        if upstream.status_code != 200:
            return Response("not found\n", status=404, mimetype="text/plain")
        body = upstream.content
    response = Response(body, mimetype="text/calendar")
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["Content-Disposition"] = 'inline; filename="insight-days.ics"'
    return response
