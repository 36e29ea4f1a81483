"""Every service boots from an empty database, migrates to head (matching its models), answers /healthz,
and refuses protected routes without an identity (401) or with the wrong role (403)."""

from __future__ import annotations

import importlib
import uuid

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from shared.db import alembic_config
from shared.migrations_env import include_name_for

pytestmark = pytest.mark.integration

SERVICES = ("gateway", "posters", "matching", "notify")

# (method, path, body) a signed-in attendee may not call, per service behind the gateway.
ORGANISER_ONLY = {
    "matching": ("post", "/api/v1/events", {}),
    "posters": ("get", "/api/v1/events/1/upload-failures", None),
}
SIGNED_IN_ONLY = {
    "matching": ("get", "/api/v1/events", None),
    "posters": ("get", "/api/v1/events/1/posters", None),
    "notify": ("get", "/api/v1/me/notifications", None),
}


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
@pytest.mark.parametrize("service", SERVICES)
def test_boots_migrates_from_empty_and_is_healthy(  # type: ignore[no-untyped-def]
    make_app, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, service: str, database: str
) -> None:
    if database == "postgresql":  # compose's database: one per service
        url = request.getfixturevalue("postgres_server").create_database(f"{service}_{uuid.uuid4().hex[:8]}")
        monkeypatch.setenv(f"{service.upper()}_DATABASE_URL", url)
    app = make_app(service)
    assert app.extensions["db"].engine.dialect.name == database
    response = app.test_client().get("/healthz")
    assert response.status_code == 200, response.json
    assert response.json == {"status": "ok", "service": service, "database": "ok", "redis": "ok", "dead_letters": 0}

    db = app.extensions["db"]
    orm = importlib.import_module(f"services.{service}.adapters.orm")
    head = ScriptDirectory.from_config(alembic_config(service, db.url)).get_current_head()
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_name": include_name_for(orm.Base.metadata)})
        assert context.get_current_revision() == head
        assert compare_metadata(context, orm.Base.metadata) == [], "models and migrations differ"


@pytest.mark.parametrize("service", sorted(SIGNED_IN_ONLY))
def test_internal_services_refuse_calls_without_identity(make_app, service: str) -> None:  # type: ignore[no-untyped-def]
    app = make_app(service)
    method, path, body = SIGNED_IN_ONLY[service]
    response = getattr(app.test_client(), method)(path, json=body)
    assert response.status_code == 401
    assert response.json["error"]["code"] == "unauthenticated"


@pytest.mark.parametrize("service", sorted(ORGANISER_ONLY))
def test_internal_services_refuse_the_wrong_role(make_app, as_user, service: str) -> None:  # type: ignore[no-untyped-def]
    app = make_app(service)
    method, path, body = ORGANISER_ONLY[service]
    response = getattr(app.test_client(), method)(path, json=body, headers=as_user(app, 5, "attendee", "author"))
    assert response.status_code == 403
    assert response.json["error"]["code"] == "forbidden"


def test_gateway_refuses_without_login_and_with_the_wrong_role(make_app) -> None:  # type: ignore[no-untyped-def]
    app = make_app("gateway", RATE_LIMITS=False)
    client = app.test_client()
    assert client.get("/api/v1/me").status_code == 401
    assert client.get("/api/v1/events").status_code == 401  # refused before anything is forwarded
    body = {
        "email": "att@example.org",
        "password": "a long enough password",
        "display_name": "Att",
        "organisation": "Org",
        "region": "North",
    }
    assert client.post("/api/v1/auth/register", json=body).status_code == 201
    token = client.post("/api/v1/auth/login", json={"email": body["email"], "password": body["password"]}).json["token"]
    response = client.put(
        "/api/v1/users/1/roles", json={"roles": ["organiser"]}, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 403
