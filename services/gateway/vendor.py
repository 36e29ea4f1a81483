"""Browser libraries installed by npm (`scripts/install.sh` runs `npm ci`), served at fixed paths.

No file name ever comes from the request: each route maps to one known file under node_modules.
Pages link them with `?v=<package version>`, so those URLs can be cached for a year; a new version is a new URL.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from flask import Blueprint, Flask, current_app, request, send_file, url_for
from werkzeug.wrappers import Response

from shared.errors import not_found

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]
SOCKETIO_PACKAGE = "socket.io-client"
SOCKETIO_DIST = "dist/socket.io.min.js"
YEAR = 365 * 24 * 3600

bp = Blueprint("vendor", __name__, url_prefix="/vendor")


def _package_dir() -> Path:
    return Path(current_app.config["NODE_MODULES_DIR"]) / SOCKETIO_PACKAGE


def _version(package_dir: Path) -> str | None:
    try:
        return str(json.loads((package_dir / "package.json").read_text())["version"])
    except (OSError, ValueError, KeyError):
        return None


def _send(relative: str, mimetype: str) -> Response:
    package_dir = _package_dir()
    path = package_dir / relative
    if not path.is_file():
        raise not_found("file")
    response = send_file(path, mimetype=mimetype, conditional=True, etag=True, max_age=0)
    if request.args.get("v") and request.args.get("v") == current_app.extensions.get("socketio_client_version"):
        response.cache_control.public = True
        response.cache_control.max_age = YEAR
        response.cache_control.immutable = True
    else:  # an unversioned URL may point at another version tomorrow: revalidate (ETag) each time
        response.cache_control.no_cache = True
    return response


@bp.get("/socket.io.min.js")
def socketio_client() -> Response:
    return _send(SOCKETIO_DIST, "text/javascript")


@bp.get("/socket.io.min.js.map")
def socketio_client_map() -> Response:  # only fetched by browser dev tools
    return _send(SOCKETIO_DIST + ".map", "application/json")


def init_vendor(app: Flask) -> None:
    app.config.setdefault("NODE_MODULES_DIR", os.environ.get("NODE_MODULES_DIR") or str(ROOT / "node_modules"))
    package_dir = Path(app.config["NODE_MODULES_DIR"]) / SOCKETIO_PACKAGE
    version = _version(package_dir) if (package_dir / SOCKETIO_DIST).is_file() else None
    if version is None:  # pages still work, only live updates are off
        log.warning("socket.io-client not installed under %s: run scripts/install.sh", package_dir.parent)
    app.extensions["socketio_client_version"] = version
    app.register_blueprint(bp)

    @app.context_processor
    def _vendor_urls() -> dict[str, str | None]:
        return {"socketio_client_url": url_for("vendor.socketio_client", v=version) if version else None}
