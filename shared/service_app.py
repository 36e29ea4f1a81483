"""What every service's create_app() shares: settings, database, Redis, errors, logs, /healthz, Celery."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click
import redis
from flask import Blueprint, Flask, current_app, jsonify

from shared.bus import Handler, Publisher, connect
from shared.bus_cli import register_bus_cli
from shared.celery_app import celery_init_app
from shared.config import load_settings
from shared.db import Database, migrate
from shared.dead_letters import DeadLetters
from shared.errors import register_error_handlers
from shared.identity_keys import load_identity_keys
from shared.logs import configure_logging, install_request_id
from shared.openapi import openapi_blueprint
from shared.request_guards import install_request_guards


def build_app(
    service: str,
    import_name: str,
    config: dict[str, Any] | None,
    *,
    outbox_model: type[Any],
    handlers: Callable[[Flask], dict[str, Handler]] = lambda app: {},
    large_body_paths: tuple[tuple[str, str], ...] = (),
) -> Flask:
    settings = load_settings(service)
    app = Flask(import_name)
    app.config.update(
        SERVICE=service,
        SETTINGS=settings,
        SECRET_KEY=settings.secret_key,
        IDENTITY_KEYS=load_identity_keys(service, settings.var_dir, settings.is_dev),
        REDIS_URL=settings.redis_url,
        DATABASE_URL=settings.database_url,
        RATE_LIMITS=settings.rate_limits,
        MAX_CONTENT_LENGTH=64 * 1024 * 1024,
    )
    app.config.update(config or {})
    configure_logging(service)
    install_request_id(app)
    register_error_handlers(app)
    install_request_guards(app, large_body_paths)  # before any route: bounds `<int:...>` and bodies
    app.extensions["db"] = Database(app.config["DATABASE_URL"])
    app.extensions["redis"] = connect(app.config["REDIS_URL"])
    app.extensions["publisher"] = Publisher(app.extensions["redis"])
    celery_init_app(app, service)
    app.register_blueprint(_health_blueprint())
    app.register_blueprint(openapi_blueprint())  # GET /internal/openapi.json: this service's part of the API doc
    _register_cli(app, outbox_model, handlers)
    return app


def _register_cli(app: Flask, outbox_model: type[Any], handlers: Callable[[Flask], dict[str, Handler]]) -> None:
    @app.cli.command("migrate")
    def migrate_command() -> None:
        """Upgrade this service's database to the newest migration."""
        migrate(app.config["SERVICE"], app.config["DATABASE_URL"])
        click.echo(f"{app.config['SERVICE']}: database at head")

    register_bus_cli(app, outbox_model, handlers)


def db() -> Database:
    return current_app.extensions["db"]


def redis_client() -> redis.Redis:
    return current_app.extensions["redis"]


def dependency_checks() -> dict[str, str]:
    """This service's database and Redis: "ok" or "error: <kind>" each (what /healthz reports)."""
    checks: dict[str, str] = {}
    for name, ping in (("database", lambda: db().ping()), ("redis", lambda: redis_client().ping())):
        try:
            ping()
            checks[name] = "ok"
        except Exception as exc:  # noqa: BLE001 - report, don't crash, the probe
            checks[name] = f"error: {type(exc).__name__}"
    return checks


def _health_blueprint() -> Blueprint:
    bp = Blueprint("health", __name__)

    @bp.get("/healthz")
    def healthz():  # type: ignore[no-untyped-def]
        checks = dependency_checks()
        healthy = all(v == "ok" for v in checks.values())
        service = current_app.config["SERVICE"]
        body: dict[str, object] = {"status": "ok" if healthy else "degraded", "service": service, **checks}
        if healthy:
            # Shown, not judged: a dead letter needs an operator (`bus dead-letters`), not a restart.
            body["dead_letters"] = DeadLetters(redis_client()).counts().get(service, 0)
        return jsonify(body), 200 if healthy else 503

    return bp
