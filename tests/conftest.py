"""Fixtures: a real redis-server per test session (flushed per test), per-test service databases."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from shared.auth import Identity
from shared.db import migrate
from tests.support.identity import app_identity_header
from tests.support.postgres import PostgresServer
from tests.support.processes import RedisServer

# An unset APP_ENV means production (fail closed); tests that build settings without the fixtures below are dev.
os.environ.setdefault("APP_ENV", "test")


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    server = PostgresServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    redis_server.client().flushall()
    return redis_server.url


@pytest.fixture
def service_environment(redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Environment for create_app(): this test's Redis, SQLite files under this test's tmp dir."""
    monkeypatch.setenv("APP_ENV", "test")
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("RATE_LIMITS", "on")
    for service in ("GATEWAY", "POSTERS", "MATCHING", "NOTIFY"):
        monkeypatch.delenv(f"{service}_DATABASE_URL", raising=False)
    return tmp_path / "var"


@pytest.fixture
def make_app(service_environment: Path):  # type: ignore[no-untyped-def]
    """make_app("posters") -> a migrated Flask app of that service."""
    import importlib

    apps: list[Flask] = []

    def factory(service: str, **config: object) -> Flask:
        module = importlib.import_module(f"services.{service}")
        app = module.create_app(config or None)
        migrate(service, app.config["DATABASE_URL"])
        apps.append(app)
        return app

    yield factory
    for app in apps:
        app.extensions["db"].dispose()


def identity_headers(app: Flask, user_id: int = 1, *roles: str, organisation: str = "Org A") -> dict[str, str]:
    """The header the gateway would add for this user (tests of one service without the gateway)."""
    identity = Identity(
        user_id=user_id,
        email=f"user{user_id}@example.org",
        display_name=f"User {user_id}",
        organisation=organisation,
        region="North",
        roles=list(roles or ("attendee",)),
    )
    return app_identity_header(app, identity)


@pytest.fixture
def as_user():  # type: ignore[no-untyped-def]
    return identity_headers


def json_error_field(client: FlaskClient, response) -> str | None:  # type: ignore[no-untyped-def]
    return (response.get_json() or {}).get("error", {}).get("field")
