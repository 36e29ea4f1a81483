"""create_app() for the posters service. Nothing happens at import time."""

from __future__ import annotations

from typing import Any

from flask import Flask

from services.posters import fair_queue, settings
from services.posters.adapters.orm import Outbox
from services.posters.adapters.storage import LocalBlobStorage
from services.posters.consumers import handlers
from shared.service_app import build_app


def create_app(config: dict[str, Any] | None = None) -> Flask:
    app = build_app(
        "posters", __name__, {**settings.from_env(), **(config or {})}, outbox_model=Outbox, handlers=handlers
    )
    # Requests larger than the biggest accepted file (+ multipart overhead) are cut off before being read.
    app.config["MAX_CONTENT_LENGTH"] = max(app.config["POSTER_MAX_BYTES"], app.config["VIDEO_MAX_BYTES"]) + 1024**2
    celery = app.extensions["celery"]  # the web process (sender) and the worker must agree on the priority lists
    celery.conf.broker_transport_options = {**celery.conf.broker_transport_options, **fair_queue.TRANSPORT_OPTIONS}
    app.extensions["storage"] = LocalBlobStorage(app.config.get("STORAGE_DIR") or app.config["SETTINGS"].storage_dir)

    from services.posters.api import bp as projects_bp
    from services.posters.api_posters import bp as posters_bp
    from services.posters.api_posters import uploads_bp
    from services.posters.approval.api import bp as approval_bp
    from services.posters.limits import init_upload_limits
    from services.posters.qa.api import bp as qa_bp

    init_upload_limits(app, uploads_bp)
    app.register_blueprint(projects_bp)
    app.register_blueprint(posters_bp)
    app.register_blueprint(uploads_bp)
    app.register_blueprint(qa_bp)
    app.register_blueprint(approval_bp)
    return app
