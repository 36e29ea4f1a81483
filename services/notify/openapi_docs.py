"""What notify's url_map cannot tell the OpenAPI document (shared.openapi reads `DOCS`): routes under /api/v1
that only the gateway's own pages call, with a secret token from a mail or a calendar app, never the public proxy."""

from __future__ import annotations

from shared.openapi import ApiDoc

DOCS: dict[str, ApiDoc] = {
    # /calendar/<token>.ics on the gateway, for calendar apps without a session
    "notify_calendar.calendar_by_token": ApiDoc(internal=True),
    # /unsubscribe/<token> on the gateway, the List-Unsubscribe link of every mail
    "notify_preferences.unsubscribe_info": ApiDoc(internal=True),
    "notify_preferences.unsubscribe": ApiDoc(internal=True),
}
