"""OpenAPI 3.1 from the code: every `/api/v1` rule of a Flask app's url_map, with the pydantic models its view uses.

Nothing is written by hand per route. For each rule the path, its parameters (from the converters) and its methods
come from the url_map; the request body model is the one named in the view's `parse_json(Model)` call (or given by
`@api_doc(body=...)` / a per-service registry when a view parses differently); response models come from
`@api_doc(response=...)` or the registry, otherwise the response is documented as a JSON object. So a route added
tomorrow appears in the document without anybody touching this module. Each service serves its own part at
`GET /internal/openapi.json`; the gateway merges the parts (keeping only the paths its route table sends to each
service) into the public `/api/v1/openapi.json`.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from flask import Blueprint, Flask, current_app, jsonify
from pydantic import BaseModel
from werkzeug.routing import Rule

from shared.validation import Strict

API_PREFIX = "/api/v1"
OPENAPI_VERSION = "3.1.0"
SCHEMA_REF = "#/components/schemas/{model}"
ERROR_SCHEMA_NAME = "Error"
SESSION_COOKIE = "insightdays_session"
_SKIPPED_METHODS = {"HEAD", "OPTIONS"}
_WRITE_METHODS = {"POST", "PUT", "PATCH"}
_RULE_ARG = re.compile(r"<(?:(?P<converter>[a-zA-Z_][a-zA-Z0-9_]*)(?:\((?P<args>[^)]*)\))?:)?(?P<name>[a-zA-Z_]\w*)>")
_IDENTIFIER = re.compile(r"\b[A-Z][A-Za-z0-9_]*\b")
_PARSED_MODEL = re.compile(r"parse_json\(\s*([A-Za-z_][A-Za-z0-9_.]*)\s*[,)]")
_CONVERTER_SCHEMAS: dict[str, dict[str, Any]] = {
    "int": {"type": "integer"},
    "float": {"type": "number"},
    "uuid": {"type": "string", "format": "uuid"},
}

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "field"],
            "properties": {
                "code": {"type": "string", "examples": ["invalid", "not_found", "forbidden"]},
                "message": {"type": "string"},
                "field": {"type": ["string", "null"], "description": "the request field at fault, if one is"},
            },
        }
    },
}
SECURITY_SCHEMES: dict[str, Any] = {
    "bearer": {"type": "http", "scheme": "bearer", "description": "token from POST /api/v1/auth/login"},
    "cookie": {"type": "apiKey", "in": "cookie", "name": SESSION_COOKIE, "description": "browser session"},
}

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class ApiDoc:
    """What the url_map cannot tell about an operation."""

    summary: str | None = None
    body: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    status: int | None = None
    public: bool = False  # no sign-in needed
    # Reached only by the gateway's own pages (e.g. a mailed link), never through its /api/v1 proxy: left out of
    # the public document and listed under `x-internal` so a test can tell it from a route somebody forgot.
    internal: bool = False
    multipart_file: bool = False  # the body is multipart/form-data with one `file`


def api_doc(**fields: Any) -> Callable[[F], F]:
    """Attach an ApiDoc to a view (put it anywhere under the route decorator; functools.wraps keeps it)."""
    doc = ApiDoc(**fields)

    def decorator(view: F) -> F:
        view.__api_doc__ = doc  # type: ignore[attr-defined]
        return view

    return decorator


def openapi_path(rule: str) -> str:
    """`/events/<int:event_id>` -> `/events/{event_id}`."""
    return _RULE_ARG.sub(lambda m: "{" + m.group("name") + "}", rule)


def concrete_path(path: str) -> str:
    """A path a client could send for this template (parameters filled with 1), to ask a router who owns it."""
    return re.sub(r"\{[^}]+\}", "1", path)


def is_api_rule(rule: Rule) -> bool:
    """A documented /api/v1 rule: not a catch-all taking the rest of the path (the gateway's proxy)."""
    if not rule.rule.startswith(API_PREFIX + "/"):
        return False
    takes_rest = any(m.group("converter") == "path" for m in _RULE_ARG.finditer(rule.rule))
    return rule.rule != API_PREFIX + "/" and not takes_rest


def api_rules(app: Flask) -> list[Rule]:
    """The documented rules; a catch-all view's other rules (e.g. the proxy's bare `/api/v1/`) go with it."""
    rules = list(app.url_map.iter_rules())
    catch_alls = {r.endpoint for r in rules if r.rule.startswith(API_PREFIX) and not is_api_rule(r)}
    kept = (r for r in rules if is_api_rule(r) and r.endpoint not in catch_alls)
    return sorted(kept, key=lambda r: (r.rule, r.endpoint))


def methods_of(rule: Rule) -> list[str]:
    return sorted(m for m in (rule.methods or set()) if m not in _SKIPPED_METHODS)


def _path_parameters(rule: str) -> list[dict[str, Any]]:
    params = []
    for match in _RULE_ARG.finditer(rule):
        schema = dict(_CONVERTER_SCHEMAS.get(match.group("converter") or "", {"type": "string"}))
        params.append({"name": match.group("name"), "in": "path", "required": True, "schema": schema})
    return params


def _doc_of(view: Callable[..., Any], registry: Mapping[str, ApiDoc], endpoint: str) -> ApiDoc:
    if endpoint in registry:
        return registry[endpoint]
    func: Any = view
    while func is not None:  # the attribute may sit on any layer of the decorator stack
        found = getattr(func, "__api_doc__", None)
        if isinstance(found, ApiDoc):
            return found
        func = getattr(func, "__wrapped__", None)
    return ApiDoc()


def _source(view: Callable[..., Any]) -> tuple[str, dict[str, Any]]:
    inner = inspect.unwrap(view)
    try:
        return inspect.getsource(inner), getattr(inner, "__globals__", {})
    except (OSError, TypeError):
        return "", {}


def _resolve(name: str, namespace: dict[str, Any]) -> Any:
    value: Any = namespace.get(name.split(".")[0])
    for part in name.split(".")[1:]:
        value = getattr(value, part, None)
    return value


def _parsed_model(source: str, namespace: dict[str, Any]) -> type[BaseModel] | None:
    """The model in the view's own `parse_json(Model)` call, looked up in the view's module; failing that, the one
    request-body model (a `Strict` subclass, the project's base for bodies) the view names, e.g. handed to a
    helper that parses an optional body."""
    for name in _PARSED_MODEL.findall(source):
        value = _resolve(name, namespace)
        if inspect.isclass(value) and issubclass(value, BaseModel):
            return value
    named = {
        value
        for name in set(_IDENTIFIER.findall(source))
        if inspect.isclass(value := _resolve(name, namespace)) and issubclass(value, Strict) and value is not Strict
    }
    return named.pop() if len(named) == 1 else None


class _Components:
    """Schemas of the models used, under their class names; nested models are hoisted from `$defs`."""

    def __init__(self) -> None:
        self.schemas: dict[str, Any] = {ERROR_SCHEMA_NAME: ERROR_SCHEMA}

    def ref(self, model: type[BaseModel], mode: str = "validation") -> dict[str, str]:
        schema = model.model_json_schema(ref_template=SCHEMA_REF, mode=mode)  # type: ignore[arg-type]
        for name, nested in schema.pop("$defs", {}).items():
            self.schemas.setdefault(name, nested)
        name = model.__name__
        self.schemas.setdefault(name, schema)
        return {"$ref": SCHEMA_REF.format(model=name)}


def _summary(doc: ApiDoc, view: Callable[..., Any], endpoint: str) -> str:
    if doc.summary:
        return doc.summary
    text = inspect.getdoc(inspect.unwrap(view)) or ""
    first = text.strip().splitlines()[0] if text.strip() else ""
    return first or endpoint.rsplit(".", 1)[-1].replace("_", " ").capitalize()


def _operation(
    service: str, rule: Rule, method: str, view: Callable[..., Any], doc: ApiDoc, components: _Components
) -> dict[str, Any]:
    source, namespace = _source(view)
    operation: dict[str, Any] = {
        "operationId": f"{service}.{rule.endpoint}.{method.lower()}",
        "summary": _summary(doc, view, rule.endpoint),
        "tags": [service],
        "x-service": service,
    }
    parameters = _path_parameters(rule.rule)
    if doc.query is not None:
        schema = doc.query.model_json_schema(ref_template=SCHEMA_REF)
        required = set(schema.get("required", []))
        for name, prop in schema.get("properties", {}).items():
            parameters.append({"name": name, "in": "query", "required": name in required, "schema": prop})
    if parameters:
        operation["parameters"] = parameters
    if method in _WRITE_METHODS:
        body_model = doc.body or _parsed_model(source, namespace)
        if body_model is not None:
            content = {"application/json": {"schema": components.ref(body_model)}}
            operation["requestBody"] = {"required": True, "content": content}
        elif doc.multipart_file or "request.files" in source:
            file_schema = {
                "type": "object",
                "required": ["file"],
                "properties": {"file": {"type": "string", "contentMediaType": "application/octet-stream"}},
            }
            operation["requestBody"] = {"required": True, "content": {"multipart/form-data": {"schema": file_schema}}}
    success: dict[str, Any] = {"description": "success"}
    if doc.response is not None:
        success["content"] = {"application/json": {"schema": components.ref(doc.response, "serialization")}}
    elif doc.status != 204:
        success["content"] = {"application/json": {"schema": {"type": "object"}}}
    error = {
        "description": "bad input, not signed in, not allowed, not found or conflict",
        "content": {"application/json": {"schema": {"$ref": SCHEMA_REF.format(model=ERROR_SCHEMA_NAME)}}},
    }
    status = str(doc.status or 200) if doc.response or doc.status else "2XX"  # undocumented: some 2xx
    operation["responses"] = {status: success, "4XX": error}
    if doc.public:
        operation["security"] = []
    return operation


def service_document(app: Flask, service: str, registry: Mapping[str, ApiDoc] | None = None) -> dict[str, Any]:
    """This app's part: every /api/v1 rule and method, with the models the code attaches to it."""
    registry = registry or {}
    components = _Components()
    paths: dict[str, dict[str, Any]] = {}
    internal: list[dict[str, Any]] = []
    operation_ids: set[str] = set()
    for rule in api_rules(app):
        view = app.view_functions[rule.endpoint]
        doc = _doc_of(view, registry, rule.endpoint)
        if doc.internal:
            internal.append({"path": openapi_path(rule.rule), "methods": methods_of(rule), "endpoint": rule.endpoint})
            continue
        item = paths.setdefault(openapi_path(rule.rule), {})
        for method in methods_of(rule):
            operation = _operation(service, rule, method, view, doc, components)
            base, n = operation["operationId"], 1
            while operation["operationId"] in operation_ids:  # one view under several rules (an alias path)
                n += 1
                operation["operationId"] = f"{base}.{n}"
            operation_ids.add(operation["operationId"])
            item.setdefault(method.lower(), operation)
    return {
        "openapi": OPENAPI_VERSION,
        "info": {"title": f"Insight Days {service}", "version": "1"},
        "paths": paths,
        "components": {"schemas": components.schemas, "securitySchemes": SECURITY_SCHEMES},
        "security": [{"bearer": []}, {"cookie": []}],
        "x-internal": internal,
    }


def _rename_clashes(service: str, part: dict[str, Any], taken: dict[str, Any]) -> dict[str, Any]:
    """A schema name another service already uses for a different schema gets the service's prefix here."""
    schemas = part.get("components", {}).get("schemas", {})
    clashes = [n for n, s in schemas.items() if n in taken and taken[n] != s]
    if not clashes:
        return part
    text = json.dumps(part)
    for name in clashes:
        text = text.replace(f'"{SCHEMA_REF.format(model=name)}"', f'"{SCHEMA_REF.format(model=f"{service}_{name}")}"')
    renamed: dict[str, Any] = json.loads(text)
    renamed_schemas = renamed["components"]["schemas"]
    for name in clashes:
        renamed_schemas[f"{service}_{name}"] = renamed_schemas.pop(name)
    return renamed


def merge_documents(
    parts: Mapping[str, dict[str, Any]],
    owner_of: Callable[[str], str | None],
    gateway: str = "gateway",
    *,
    title: str = "Insight Days API",
) -> dict[str, Any]:
    """One document from the services' parts: a service's path is kept only if the router sends it there (the
    gateway's own rules are always kept: Flask matches them before its catch-all proxy)."""
    schemas: dict[str, Any] = {}
    paths: dict[str, dict[str, Any]] = {}
    for service in sorted(parts, key=lambda s: (s != gateway, s)):  # the gateway's own paths first
        part = _rename_clashes(service, parts[service], schemas)
        for path, item in part.get("paths", {}).items():
            owner = owner_of(concrete_path(path))
            if service != gateway and owner != service:
                continue
            merged = paths.setdefault(path, {})
            for method, operation in item.items():
                merged.setdefault(method, operation)  # the gateway's view wins, as it does at runtime
        for name, schema in part.get("components", {}).get("schemas", {}).items():
            schemas.setdefault(name, schema)
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": title,
            "version": "1",
            "description": "Every public /api/v1 route, generated from the services' url maps and pydantic models. "
            'Errors are always {"error": {"code", "message", "field"}} with a 4xx status.',
        },
        "servers": [{"url": "/"}],
        "paths": dict(sorted(paths.items())),
        "components": {"schemas": dict(sorted(schemas.items())), "securitySchemes": SECURITY_SCHEMES},
        "security": [{"bearer": []}, {"cookie": []}],
        "tags": [{"name": s} for s in sorted(parts)],
    }


def service_registry(service: str) -> Mapping[str, ApiDoc]:
    """`DOCS` of `services.<service>.openapi_docs` if the service has one: endpoint -> ApiDoc for views whose
    modules are better left untouched."""
    module_name = f"services.{service}.openapi_docs"
    try:
        found = importlib.util.find_spec(module_name)
    except ModuleNotFoundError:
        found = None
    if found is None:
        return {}
    return dict(getattr(importlib.import_module(module_name), "DOCS", {}))


def app_document(app: Flask) -> dict[str, Any]:
    """This app's part, built once per process (the url_map does not change once the app serves requests)."""
    cached = app.extensions.get("openapi_part")
    if cached is None:
        service = app.config["SERVICE"]
        cached = app.extensions["openapi_part"] = service_document(app, service, service_registry(service))
    return cached


def openapi_blueprint() -> Blueprint:
    """`GET /internal/openapi.json`: this service's part (the gateway merges the parts)."""
    bp = Blueprint("openapi_part", __name__)

    @bp.get("/internal/openapi.json")
    def openapi_part():  # type: ignore[no-untyped-def]
        return jsonify(app_document(current_app))  # type: ignore[arg-type]

    return bp
