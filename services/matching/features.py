"""Matching's features, one package each (see `shared.features`). The service root keeps only what all share
(the insight day itself, the project copies, the outbox). A feature is picked up by being listed here."""

from __future__ import annotations

from flask import Flask

from shared.bus import Handler
from shared.features import FeatureSet

FEATURES = FeatureSet(
    "services.matching",
    ("setup", "registration", "assignment", "chat_slots", "coffee", "directory", "spinoffs", "timetable",
     "day_end", "outcomes"),
)


def import_models() -> None:
    FEATURES.import_models()


def register_features(app: Flask) -> None:
    FEATURES.register(app)


def feature_handlers(app: Flask) -> dict[str, Handler]:
    return FEATURES.handlers(app)
