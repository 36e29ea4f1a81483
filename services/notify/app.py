"""create_app() for the notify service. Nothing happens at import time."""

from __future__ import annotations

from typing import Any

from flask import Flask

from services.notify.adapters.orm import Outbox
from services.notify.adapters.push import Pusher
from services.notify.consumers import handlers
from shared.service_app import build_app


def create_app(config: dict[str, Any] | None = None) -> Flask:
    app = build_app("notify", __name__, config, outbox_model=Outbox, handlers=handlers)
    app.extensions["notify_pusher"] = Pusher(app.config["REDIS_URL"])
    from services.notify import tasks  # noqa: F401 - registers the named tasks with this app's Celery
    from services.notify.api import bp

    app.register_blueprint(bp)
    from services.notify.features import FEATURES

    FEATURES.register(app)
    return app
