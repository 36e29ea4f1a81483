"""Browser pages of the matching features, one module each (`services/gateway/pages/<feature>.py` with a
Blueprint named `bp`), registered when present so features can be added one at a time without touching app.py."""

from __future__ import annotations

import importlib
import importlib.util

from flask import Flask

PAGE_MODULES = ("setup", "registration", "assignment", "chat_slots", "coffee", "directory", "spinoffs",
                "notify_deliveries", "verify_email", "agenda", "preferences", "chat", "followup", "outcomes",
                "timetable", "author_approval")


def register_feature_pages(app: Flask) -> None:
    for name in PAGE_MODULES:
        module_name = f"services.gateway.pages.{name}"
        try:
            found = importlib.util.find_spec(module_name)
        except ModuleNotFoundError:
            found = None
        if found:
            app.register_blueprint(importlib.import_module(module_name).bp)
