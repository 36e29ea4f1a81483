"""create_app() for the notify service. Nothing happens at import time."""

from __future__ import annotations

import os
from typing import Any

from flask import Flask

from services.notify.adapters.orm import Outbox
from services.notify.adapters.push import Pusher
from services.notify.consumers import handlers
from shared.service_app import build_app

TEST_PAUSES = ("NOTIFY_TEST_PAUSE_BEFORE_SMTP_S", "NOTIFY_TEST_PAUSE_AFTER_SMTP_S")


def create_app(config: dict[str, Any] | None = None) -> Flask:
    app = build_app("notify", __name__, config, outbox_model=Outbox, handlers=handlers)
    if app.config["SETTINGS"].is_dev:
        # Test seams for the crash drills (tests/integration/test_notify_exactly_once.py): the worker is a separate
        # process, so they come from its environment; never honoured in production.
        for name in TEST_PAUSES:
            if name not in app.config and os.environ.get(name):
                app.config[name] = float(os.environ[name])
    app.extensions["notify_pusher"] = Pusher(app.config["REDIS_URL"])
    from services.notify import tasks  # noqa: F401 - registers the named tasks with this app's Celery
    from services.notify.api import bp

    app.register_blueprint(bp)
    from services.notify.features import FEATURES

    FEATURES.register(app)
    return app
