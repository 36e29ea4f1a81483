"""The published API document: `GET /api/v1/openapi.json` (OpenAPI 3.1) and a browsable page at `/api/docs`.

Each service builds its own part from its url_map (`shared.openapi`, served at `/internal/openapi.json`); the gateway
merges them with its own, keeping only the paths its route table sends to each service. The merged document is
cached per process (`OPENAPI_CACHE_S`, default 300 s; a service that did not answer makes the cache last only
`OPENAPI_RETRY_S` so its paths come back soon). Both are public: the document describes routes, not data.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Flask, Response, current_app, g, render_template, request

from services.gateway.proxy import call
from services.gateway.routes import GATEWAY, ROUTE_TABLE, owner_of
from shared.config import env
from shared.errors import ApiError
from shared.openapi import app_document, merge_documents

log = logging.getLogger(__name__)

bp = Blueprint("api_docs", __name__)
PART_PATH = "/internal/openapi.json"
_lock = threading.Lock()


@dataclass(frozen=True)
class Merged:
    document: dict[str, Any]
    body: bytes
    etag: str
    missing: tuple[str, ...]
    expires: float


def upstream_services() -> list[str]:
    return sorted({owner for _, owner in ROUTE_TABLE if owner != GATEWAY})


def _fetch_part(service: str) -> dict[str, Any] | None:
    try:
        headers = {"Accept": "application/json", "X-Request-Id": g.get("request_id", "")}
        with call(service, "GET", PART_PATH, headers, None) as response:
            if response.status_code == 200:
                part = response.json()
                if isinstance(part, dict) and isinstance(part.get("paths"), dict):
                    return part
            log.warning("openapi part refused", extra={"upstream": service, "status": response.status_code})
    except (ApiError, ValueError):
        log.warning("openapi part unavailable", extra={"upstream": service})
    return None


def _seconds(app: Flask, name: str, default: str) -> float:
    """create_app(config) wins, then the environment, then the default."""
    return float(app.config.get(name) or env(name, default) or default)


def _build(app: Flask) -> Merged:
    last_good: dict[str, dict[str, Any]] = app.extensions.setdefault("openapi_last_parts", {})
    parts: dict[str, dict[str, Any]] = {GATEWAY: app_document(app)}
    missing = []
    for service in upstream_services():
        part = _fetch_part(service)
        if part is not None:
            last_good[service] = part
        elif service in last_good:  # a service restarting: its last part still describes it
            part = last_good[service]
        if part is None:
            missing.append(service)
        else:
            parts[service] = part
    document = merge_documents(parts, owner_of)
    if missing:
        document["info"]["x-missing-services"] = missing
    body = json.dumps(document, separators=(",", ":")).encode()
    ttl = _seconds(app, "OPENAPI_RETRY_S", "10") if missing else _seconds(app, "OPENAPI_CACHE_S", "300")
    return Merged(document, body, hashlib.sha256(body).hexdigest()[:32], tuple(missing), time.monotonic() + ttl)


def merged_document() -> Merged:
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    cached: Merged | None = app.extensions.get("openapi_merged")
    if cached is not None and cached.expires > time.monotonic():
        return cached
    with _lock:  # one rebuild at a time; the others wait and take its result
        cached = app.extensions.get("openapi_merged")
        if cached is None or cached.expires <= time.monotonic():
            cached = app.extensions["openapi_merged"] = _build(app)
        return cached


@bp.get("/api/v1/openapi.json")
def openapi_json() -> Response:
    """The OpenAPI 3.1 document of every public /api/v1 route."""
    merged = merged_document()
    response = Response(merged.body, mimetype="application/json")
    response.set_etag(merged.etag)
    response.cache_control.public = True
    response.cache_control.max_age = 60
    return response.make_conditional(request)


METHOD_ORDER = ("get", "post", "put", "patch", "delete")


def _schema_name(ref_holder: dict[str, Any] | None) -> str | None:
    ref = (ref_holder or {}).get("$ref")
    return ref.rsplit("/", 1)[-1] if isinstance(ref, str) else None


def _operations(document: dict[str, Any]) -> list[dict[str, Any]]:
    """The document as rows for the page: grouped by the first path segment after /api/v1."""
    rows = []
    for path, item in document["paths"].items():
        for method in METHOD_ORDER:
            op = item.get(method)
            if op is None:
                continue
            body = (op.get("requestBody") or {}).get("content", {})
            body_type, body_schema = next(iter(body.items()), (None, {}))
            responses = []
            for status, answer in op["responses"].items():
                schema = next(iter((answer.get("content") or {}).values()), {}).get("schema")
                responses.append({"status": status, "schema": _schema_name(schema)})
            rows.append(
                {
                    "group": path.removeprefix("/api/v1/").split("/", 1)[0],
                    "method": method.upper(),
                    "path": path,
                    "anchor": op["operationId"].replace(".", "-"),
                    "summary": op.get("summary", ""),
                    "service": op.get("x-service", ""),
                    "parameters": op.get("parameters", []),
                    "body_type": body_type,
                    "body_schema": _schema_name(body_schema.get("schema")) if body_schema else None,
                    "public": op.get("security") == [],
                    "responses": responses,
                }
            )
    return rows


@bp.get("/api/docs")
def docs_page() -> str:
    merged = merged_document()
    operations = _operations(merged.document)
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in operations:
        groups.setdefault(row["group"], []).append(row)
    schemas = {
        name: json.dumps(schema, indent=2, sort_keys=True)
        for name, schema in merged.document["components"]["schemas"].items()
    }
    return render_template(
        "api_docs.html",
        groups=groups,
        schemas=schemas,
        count=len(operations),
        missing=merged.missing,
        info=merged.document["info"],
    )
