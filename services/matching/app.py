"""create_app() for the matching service. Nothing happens at import time."""

from __future__ import annotations

from typing import Any

from flask import Flask

from services.matching.adapters.orm import Outbox
from services.matching.consumers import handlers
from shared.push import Pusher
from shared.service_app import build_app


def create_app(config: dict[str, Any] | None = None) -> Flask:
    app = build_app("matching", __name__, config, outbox_model=Outbox, handlers=handlers)
    app.extensions["matching_pusher"] = Pusher(app.config["REDIS_URL"])  # live progress of assignment runs
    from services.matching.api import bp
    from services.matching.assignment.cli import register_cli
    from services.matching.features import register_features
    from services.matching.timetable.cli import register_cli as register_timetable_cli

    app.register_blueprint(bp)
    register_features(app)
    register_cli(app)
    register_timetable_cli(app)
    return app
