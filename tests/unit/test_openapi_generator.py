"""shared.openapi on small Flask apps: paths, parameters, models found in the code, the merge by route table."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Flask, jsonify, request
from openapi_spec_validator import validate
from pydantic import BaseModel

from shared.openapi import api_doc, concrete_path, merge_documents, openapi_path, service_document
from shared.validation import Strict, parse_json


class NewThing(Strict):
    name: str
    size: int = 1


class Part(BaseModel):
    label: str


class Thing(BaseModel):
    id: int
    parts: list[Part]


def guarded(view: Callable[..., Any]) -> Callable[..., Any]:
    """Stands in for require_identity: a wrapping decorator."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return view(*args, **kwargs)

    return wrapper


def _app(name: str = "things") -> Flask:
    app = Flask(name)
    bp = Blueprint("things", __name__, url_prefix="/api/v1")

    @bp.post("/events/<int:event_id>/things")
    @guarded
    @api_doc(response=Thing, status=201)
    def create_thing(event_id: int):  # type: ignore[no-untyped-def]
        """Create a thing for an insight day."""
        body = parse_json(NewThing)
        return jsonify({"id": 1, "parts": [], "name": body.name}), 201

    @bp.get("/things/<thing_id>")
    @bp.get("/things/<thing_id>/alias")
    def get_thing(thing_id: str):  # type: ignore[no-untyped-def]
        return jsonify({"id": thing_id})

    @bp.post("/things/<int:thing_id>/file")
    def upload(thing_id: int):  # type: ignore[no-untyped-def]
        return jsonify({"name": request.files["file"].filename})

    @bp.route("/<path:rest>", methods=["GET", "POST"])
    def catch_all(rest: str):  # type: ignore[no-untyped-def]
        return jsonify({})

    app.register_blueprint(bp)

    @app.get("/healthz")
    def healthz():  # type: ignore[no-untyped-def]
        return "ok"

    return app


def test_paths_and_parameters_come_from_the_url_map() -> None:
    assert openapi_path("/api/v1/events/<int:event_id>/slots/<slot_id>") == "/api/v1/events/{event_id}/slots/{slot_id}"
    assert concrete_path("/api/v1/events/{event_id}/slots/{slot_id}") == "/api/v1/events/1/slots/1"
    doc = service_document(_app(), "things")
    assert set(doc["paths"]) == {
        "/api/v1/events/{event_id}/things",
        "/api/v1/things/{thing_id}",
        "/api/v1/things/{thing_id}/alias",
        "/api/v1/things/{thing_id}/file",
    }  # no /healthz, no catch-all
    create = doc["paths"]["/api/v1/events/{event_id}/things"]["post"]
    assert create["parameters"] == [{"name": "event_id", "in": "path", "required": True, "schema": {"type": "integer"}}]
    assert doc["paths"]["/api/v1/things/{thing_id}"]["get"]["parameters"][0]["schema"] == {"type": "string"}
    ids = [op["operationId"] for item in doc["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids))  # one view under two rules still gets distinct operation ids
    validate(doc)


def test_models_are_found_in_the_view_and_its_decorators() -> None:
    doc = service_document(_app(), "things")
    create = doc["paths"]["/api/v1/events/{event_id}/things"]["post"]
    assert create["summary"] == "Create a thing for an insight day."
    assert create["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/NewThing"}
    assert create["responses"]["201"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Thing"}
    assert create["responses"]["4XX"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
    schemas = doc["components"]["schemas"]
    assert schemas["NewThing"]["required"] == ["name"] and schemas["NewThing"]["additionalProperties"] is False
    assert schemas["Thing"]["properties"]["parts"]["items"] == {"$ref": "#/components/schemas/Part"}
    assert "Part" in schemas  # nested models are hoisted from $defs
    upload = doc["paths"]["/api/v1/things/{thing_id}/file"]["post"]
    assert "multipart/form-data" in upload["requestBody"]["content"]
    assert "requestBody" not in doc["paths"]["/api/v1/things/{thing_id}"]["get"]


def test_merge_keeps_only_what_the_router_sends_to_each_service() -> None:
    things = service_document(_app(), "things")
    login = {"operationId": "gw.login", "responses": {"200": {"description": "ok"}}}
    gateway = {
        "paths": {"/api/v1/auth/login": {"post": login}},
        "components": {"schemas": {"Thing": {"type": "string"}}},  # same name, another schema
    }

    def owner_of(path: str) -> str | None:
        if path.startswith("/api/v1/auth"):
            return "gateway"
        return "things" if path.startswith("/api/v1/things") else "elsewhere"

    merged = merge_documents({"things": things, "gateway": gateway}, owner_of)
    assert set(merged["paths"]) == {
        "/api/v1/auth/login",
        "/api/v1/things/{thing_id}",
        "/api/v1/things/{thing_id}/alias",
        "/api/v1/things/{thing_id}/file",
    }  # /events/{e}/things is routed elsewhere, so a client could never reach it through the gateway
    schemas = merged["components"]["schemas"]
    assert schemas["Thing"] == {"type": "string"} and "things_Thing" in schemas  # a clash is renamed, not lost
    validate(merged)
