"""Browser libraries installed by npm (`scripts/install.sh` runs `npm ci`), served at fixed paths.

No file name ever comes from the request: each route name maps to one known file under node_modules (`ASSETS`).
Pages link them with `?v=<package version>` (`vendor_url(name)` in templates), so those URLs can be cached for a
year; a new version is a new URL. To add a library: `npm install --save PKG`, then one line in `ASSETS`.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from flask import Blueprint, Flask, current_app, request, send_file, url_for
from werkzeug.wrappers import Response

from shared.errors import not_found

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]
YEAR = 365 * 24 * 3600


@dataclass(frozen=True)
class Asset:
    package: str  # the npm package's directory under node_modules
    path: str  # the file inside it
    mimetype: str


ASSETS: dict[str, Asset] = {
    "socket.io.min.js": Asset("socket.io-client", "dist/socket.io.min.js", "text/javascript"),
    "socket.io.min.js.map": Asset("socket.io-client", "dist/socket.io.min.js.map", "application/json"),
    "chart.umd.min.js": Asset("chart.js", "dist/chart.umd.min.js", "text/javascript"),
}

bp = Blueprint("vendor", __name__, url_prefix="/vendor")


def _modules_dir() -> Path:
    return Path(current_app.config["NODE_MODULES_DIR"])


def _version(package_dir: Path) -> str | None:
    try:
        return str(json.loads((package_dir / "package.json").read_text())["version"])
    except (OSError, ValueError, KeyError):
        return None


@bp.get("/<string:name>")
def asset(name: str) -> Response:
    known = ASSETS.get(name)
    if known is None:
        raise not_found("file")
    path = _modules_dir() / known.package / known.path
    if not path.is_file():
        raise not_found("file")
    response = send_file(path, mimetype=known.mimetype, conditional=True, etag=True, max_age=0)
    versions: dict[str, str | None] = current_app.extensions["vendor_versions"]
    if request.args.get("v") and request.args.get("v") == versions.get(name):
        response.cache_control.public = True
        response.cache_control.max_age = YEAR
        response.cache_control.immutable = True
    else:  # an unversioned URL may point at another version tomorrow: revalidate (ETag) each time
        response.cache_control.no_cache = True
    return response


def init_vendor(app: Flask) -> None:
    app.config.setdefault("NODE_MODULES_DIR", os.environ.get("NODE_MODULES_DIR") or str(ROOT / "node_modules"))
    modules = Path(app.config["NODE_MODULES_DIR"])
    versions: dict[str, str | None] = {}
    for name, known in ASSETS.items():
        present = (modules / known.package / known.path).is_file()
        versions[name] = _version(modules / known.package) if present else None
        if not present and not name.endswith(".map"):  # pages still work, without that library's part
            log.warning("%s not installed under %s: run scripts/install.sh", known.package, modules)
    app.extensions["vendor_versions"] = versions
    app.extensions["socketio_client_version"] = versions["socket.io.min.js"]
    app.register_blueprint(bp)

    def vendor_url(name: str) -> str | None:
        version = versions.get(name)
        return url_for("vendor.asset", name=name, v=version) if version else None

    @app.context_processor
    def _vendor_urls() -> dict[str, object]:
        return {"socketio_client_url": vendor_url("socket.io.min.js"), "vendor_url": vendor_url}
