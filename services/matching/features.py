"""Matching's features, one package each (Indico's per-module style): `services/matching/<feature>/` holds the
feature's pure rules (`domain.py`), use cases (`service.py`), tables (`models.py`), HTTP API (`api.py`, a Blueprint
named `bp`), Celery tasks (`tasks.py`) and event handlers (`consumers.py`, `handlers(app) -> {type: handler}`).

The service root keeps only what all share (the insight day itself, the project copies, the outbox). A feature is
picked up by being listed here; each part is optional, so a feature can grow one module at a time.
"""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType

from flask import Flask

from shared.bus import Handler

FEATURES = ("setup", "registration", "assignment", "chat_slots", "coffee", "directory", "spinoffs")


def _module(feature: str, part: str) -> ModuleType | None:
    name = f"services.matching.{feature}.{part}"
    try:
        found = importlib.util.find_spec(name)
    except ModuleNotFoundError:  # the feature package itself does not exist yet
        return None
    return importlib.import_module(name) if found else None


def import_models() -> None:
    """Every feature's tables join `Base.metadata` (migrations and create_all see them all)."""
    for feature in FEATURES:
        _module(feature, "models")


def register_features(app: Flask) -> None:
    for feature in FEATURES:
        api = _module(feature, "api")
        if api is not None:
            app.register_blueprint(api.bp)
        _module(feature, "tasks")  # registers the feature's named Celery tasks


def feature_handlers(app: Flask) -> dict[str, Handler]:
    handlers: dict[str, Handler] = {}
    for feature in FEATURES:
        consumers = _module(feature, "consumers")
        if consumers is None:
            continue
        for event_type, handler in consumers.handlers(app).items():
            if event_type in handlers:
                raise RuntimeError(f"two matching features handle {event_type}: combine them in one handler")
            handlers[event_type] = handler
    return handlers
