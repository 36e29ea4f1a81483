"""What the gateway's url_map cannot tell the OpenAPI document (shared.openapi reads `DOCS`): which routes need no
sign-in. Request bodies are found in the views' own `parse_json(Model)` calls."""

from __future__ import annotations

from shared.openapi import ApiDoc

DOCS: dict[str, ApiDoc] = {
    "gateway_api.register": ApiDoc(summary="Create an account", public=True),
    "gateway_api.login": ApiDoc(summary="Sign in: a bearer token for the API", public=True),
    "verify_email_pages.confirm_api": ApiDoc(summary="Confirm an e-mail address with the mailed token", public=True),
    "api_docs.openapi_json": ApiDoc(summary="This document (OpenAPI 3.1)", public=True),
}
