"""Per-feature packages inside a service (Indico's per-module style): `services/<service>/<feature>/` holds the
feature's pure rules (`domain.py`), use cases (`service.py`), tables (`models.py`), HTTP API (`api.py`, a Blueprint
named `bp`), Celery tasks (`tasks.py`, optionally a `BEAT_SCHEDULE` dict) and event handlers (`consumers.py`,
`handlers(app) -> {type: handler}`). Each part is optional, so a feature can grow one module at a time; a feature is
picked up by being listed in the service's `features.py`.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Iterable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from flask import Flask

from shared.bus import Handler


@dataclass(frozen=True)
class FeatureSet:
    package: str  # e.g. "services.notify"
    names: tuple[str, ...]

    def module(self, feature: str, part: str) -> ModuleType | None:
        name = f"{self.package}.{feature}.{part}"
        try:
            found = importlib.util.find_spec(name)
        except ModuleNotFoundError:  # the feature package itself does not exist yet
            return None
        return importlib.import_module(name) if found else None

    def parts(self, part: str) -> Iterable[ModuleType]:
        for feature in self.names:
            module = self.module(feature, part)
            if module is not None:
                yield module

    def import_models(self) -> None:
        """Every feature's tables join the service's `Base.metadata` (migrations and create_all see them all)."""
        for _ in self.parts("models"):
            pass

    def register(self, app: Flask) -> None:
        """Blueprints, and the named Celery tasks (importing `tasks` registers them)."""
        for feature in self.names:
            api = self.module(feature, "api")
            if api is not None:
                app.register_blueprint(api.bp)
            self.module(feature, "tasks")

    def beat_schedule(self) -> dict[str, dict[str, Any]]:
        schedule: dict[str, dict[str, Any]] = {}
        for tasks in self.parts("tasks"):
            schedule.update(getattr(tasks, "BEAT_SCHEDULE", {}))
        return schedule

    def handlers(self, app: Flask) -> dict[str, Handler]:
        handlers: dict[str, Handler] = {}
        for feature in self.names:
            consumers = self.module(feature, "consumers")
            if consumers is None:
                continue
            for event_type, handler in consumers.handlers(app).items():
                if event_type in handlers:
                    raise RuntimeError(f"two {self.package} features handle {event_type}: combine them in one handler")
                handlers[event_type] = handler
        return handlers


def merge_handlers(root: dict[str, Handler], features: dict[str, Handler], service: str) -> dict[str, Handler]:
    clash = root.keys() & features.keys()
    if clash:
        raise RuntimeError(f"a {service} feature handles events the service root handles: {sorted(clash)}")
    return {**root, **features}
