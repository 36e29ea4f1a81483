"""The published OpenAPI document: every /api/v1 rule of every service (and of the gateway) is in it, routed by the
gateway's route table to the service that has it, and the document is valid OpenAPI 3.1.

The three services run for real (their own create_app and database) in werkzeug server threads; the gateway fetches
their parts over HTTP, as in production, and merges them.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from openapi_spec_validator import validate
from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.serving import BaseWSGIServer, make_server

from services.gateway.api_docs import upstream_services
from services.gateway.routes import GATEWAY, owner_of
from shared.openapi import api_rules, app_document, concrete_path, methods_of, openapi_path

pytestmark = pytest.mark.integration


class ServerThread:
    def __init__(self, app: Any) -> None:
        self.server: BaseWSGIServer = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(timeout=10)


def make_app(service: str, **config: object) -> Flask:
    """The service's app, not migrated: describing the API needs no tables (and other people's migrations in
    progress cannot stop this test)."""
    return importlib.import_module(f"services.{service}").create_app(config or None)


@pytest.fixture
def system(service_environment, monkeypatch) -> Iterator[dict[str, Flask]]:  # type: ignore[no-untyped-def]
    apps: dict[str, Flask] = {}
    servers = []
    for service in upstream_services():
        apps[service] = make_app(service)
        server = ServerThread(apps[service])
        servers.append(server)
        monkeypatch.setenv(f"{service.upper()}_URL", server.url)
    apps[GATEWAY] = make_app(GATEWAY)
    yield apps
    for server in servers:
        server.stop()


def _gateway_endpoint(gateway: Flask, path: str, method: str) -> str | None:
    """Which gateway view answers this request (None: no rule at all)."""
    adapter = gateway.url_map.bind("localhost")
    try:
        endpoint, _ = adapter.match(path, method=method)
    except (NotFound, MethodNotAllowed):
        return None
    return str(endpoint)


def test_every_rule_is_documented_and_routed_to_its_service(system):  # type: ignore[no-untyped-def]
    gateway = system[GATEWAY]
    response = gateway.test_client().get("/api/v1/openapi.json")
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    document = response.get_json()
    validate(document)  # raises on any violation of the OpenAPI 3.1 schema
    assert document["openapi"] == "3.1.0"
    assert "x-missing-services" not in document["info"]

    problems = []
    checked = 0
    for service, app in system.items():
        rules = api_rules(app)
        assert rules, f"{service} has no /api/v1 rules"
        internal = {(i["path"], m) for i in app_document(app)["x-internal"] for m in i["methods"]}
        for rule in rules:
            path = openapi_path(rule.rule)
            if all((path, m) in internal for m in methods_of(rule)):
                # Declared internal (the gateway's own pages call it): no client may reach it through the proxy.
                if service != GATEWAY and owner_of(concrete_path(path)) is not None:
                    problems.append(f"{service}: internal {path} is routed by ROUTE_TABLE: document it instead")
                continue
            for method in methods_of(rule):
                checked += 1
                if service != GATEWAY:
                    routed = owner_of(concrete_path(path))
                    if routed != service:
                        problems.append(f"{service}: {method} {path} is routed to {routed} by ROUTE_TABLE")
                    served_by = _gateway_endpoint(gateway, concrete_path(path), method)
                    if served_by is not None and not served_by.startswith("proxy."):
                        problems.append(f"{service}: {method} {path} is shadowed by the gateway's {served_by}")
                operation = document["paths"].get(path, {}).get(method.lower())
                if operation is None:
                    problems.append(f"{service}: {method} {path} missing from the document")
                elif operation["x-service"] != service:
                    problems.append(f"{service}: {method} {path} documented as {operation['x-service']}'s")
    assert not problems, "\n".join(problems)
    assert checked >= 100  # all four services' routes, not an empty walk

    # The models the code uses are in the document: a parsed body, a declared response, the error shape.
    ask = document["paths"]["/api/v1/projects/{project_id}/questions"]["post"]
    assert ask["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/NewQuestion"}
    assert ask["responses"]["201"]["content"]["application/json"]["schema"]["$ref"].endswith("/Question")
    assert document["components"]["schemas"]["NewQuestion"]["properties"]["text"]["maxLength"] == 1000
    login = document["paths"]["/api/v1/auth/login"]["post"]
    assert "requestBody" in login and "$ref" in login["responses"]["4XX"]["content"]["application/json"]["schema"]
    assert document["paths"]["/api/v1/events/{event_id}"]["get"]["parameters"][0]["schema"] == {"type": "integer"}
    assert set(document["components"]["securitySchemes"]) == {"bearer", "cookie"}
    assert "/api/v1/openapi.json" in document["paths"]


def test_document_is_cached_and_conditional_and_the_docs_page_renders(system):  # type: ignore[no-untyped-def]
    client = system[GATEWAY].test_client()
    first = client.get("/api/v1/openapi.json")
    etag = first.headers["ETag"]
    again = client.get("/api/v1/openapi.json", headers={"If-None-Match": etag})
    assert again.status_code == 304
    page = client.get("/api/docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "/api/v1/projects/{project_id}/questions" in html and 'id="schema-NewQuestion"' in html
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert "<script>" not in html.split("</head>", 1)[1]  # no inline script in the page body


def test_a_service_that_does_not_answer_is_named_not_hidden(service_environment, monkeypatch):  # type: ignore[no-untyped-def]
    from tests.support.processes import free_port

    for service in upstream_services():
        monkeypatch.setenv(f"{service.upper()}_URL", f"http://127.0.0.1:{free_port()}")  # nobody listens
    gateway = make_app(GATEWAY, PROXY_CONNECT_TIMEOUT=0.5)
    document = gateway.test_client().get("/api/v1/openapi.json").get_json()
    assert document["info"]["x-missing-services"] == upstream_services()
    assert "/api/v1/auth/login" in document["paths"]  # the gateway's own part is still there
    validate(document)
