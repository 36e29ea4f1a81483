"""Forward /api/v1 calls to the owning service with the caller's signed identity; stream both bodies."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import IO, Any
from urllib.parse import quote

import requests
from flask import Blueprint, Flask, Response, current_app, g, request
from requests.adapters import HTTPAdapter

from services.gateway.auth import identity_header, require_caller
from services.gateway.domain.accounts import Account
from services.gateway.routes import GATEWAY, owner_of
from shared.auth import HEADER
from shared.errors import ApiError, not_found

log = logging.getLogger(__name__)

CHUNK = 64 * 1024
# Only these travel upstream: credentials (Authorization, Cookie) and any client-made identity stay behind.
REQUEST_HEADERS = (
    "Content-Type",
    "Accept",
    "Accept-Language",
    "If-None-Match",
    "If-Modified-Since",
    "If-Match",
    "Range",
)
RESPONSE_HEADERS = (
    "Content-Type",
    "Content-Disposition",
    "Cache-Control",
    "ETag",
    "Location",
    "Last-Modified",
    "Content-Range",
    "Accept-Ranges",
    "Retry-After",
    "Vary",
    "Content-Security-Policy",  # the posters file routes send their own, stricter one (sandbox) for files
)

bp = Blueprint("proxy", __name__)


class Upstreams:
    """One pooled requests.Session shared by all threads (urllib3 pools are thread-safe)."""

    def __init__(self, urls: dict[str, str], connect_timeout: float, read_timeout: float, pool_size: int) -> None:
        self.urls = {name: url.rstrip("/") for name, url in urls.items()}
        self.timeout = (connect_timeout, read_timeout)
        self.session = requests.Session()
        self.session.trust_env = False  # internal calls never go through an HTTP(S)_PROXY from the environment
        adapter = HTTPAdapter(pool_connections=8, pool_maxsize=pool_size, max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)

    def send(self, service: str, method: str, path_qs: str, headers: dict[str, str], body: Any) -> requests.Response:
        return self.session.request(
            method,
            self.urls[service] + path_qs,
            headers=headers,
            data=body,
            stream=True,
            timeout=self.timeout,
            allow_redirects=False,
        )


def init_proxy(app: Flask) -> None:
    settings = app.config["SETTINGS"]
    urls = {**settings.service_urls, **app.config.get("SERVICE_URLS", {})}
    app.extensions["upstreams"] = Upstreams(
        urls,
        float(app.config["PROXY_CONNECT_TIMEOUT"]),
        float(app.config["PROXY_READ_TIMEOUT"]),
        int(app.config["PROXY_POOL_SIZE"]),
    )
    app.register_blueprint(bp)


def upstreams() -> Upstreams:
    return current_app.extensions["upstreams"]


class _SizedBody:
    """The request body as a file with a known length, so it goes upstream as-is (not re-chunked)."""

    def __init__(self, stream: IO[bytes], length: int) -> None:
        self.stream = stream
        self.length = length

    def __len__(self) -> int:
        return self.length

    def read(self, size: int = -1) -> bytes:
        return self.stream.read(size)

    def __iter__(self) -> Iterator[bytes]:
        return iter(lambda: self.stream.read(CHUNK), b"")


def _request_body() -> Any:
    length = request.content_length
    if length is not None:
        return _SizedBody(request.stream, length) if length > 0 else None
    if "chunked" in request.headers.get("Transfer-Encoding", "").lower():
        stream = request.stream  # bounded by MAX_CONTENT_LENGTH by werkzeug
        return iter(lambda: stream.read(CHUNK), b"")
    return None


def _upstream_headers(account: Account, audience: str) -> dict[str, str]:
    headers = {name: value for name in REQUEST_HEADERS if (value := request.headers.get(name))}
    if request.content_length:
        headers["Content-Length"] = str(request.content_length)
    headers[HEADER] = identity_header(account, audience)
    headers["X-Request-Id"] = g.request_id
    headers["X-Forwarded-For"] = request.remote_addr or ""
    headers["X-Forwarded-Proto"] = request.scheme
    headers["Accept-Encoding"] = "identity"  # keep Content-Length meaningful when we pass it on
    return headers


def call(service: str, method: str, path_qs: str, headers: dict[str, str], body: Any) -> requests.Response:
    try:
        return upstreams().send(service, method, path_qs, headers, body)
    except requests.Timeout:
        log.warning("upstream timeout", extra={"upstream": service, "path": path_qs.split("?", 1)[0]})
        raise ApiError(504, "upstream_timeout", f"the {service} service did not answer in time") from None
    except requests.ConnectionError:
        log.warning("upstream unavailable", extra={"upstream": service, "path": path_qs.split("?", 1)[0]})
        raise ApiError(502, "upstream_unavailable", f"the {service} service is unavailable") from None


def fetch_json(service: str, path: str, account: Account) -> Any:
    """A server-side GET as `account` (pages rendered by the gateway); raises ApiError when it fails."""
    headers = {HEADER: identity_header(account, service), "X-Request-Id": g.request_id, "Accept": "application/json"}
    with call(service, "GET", path, headers, None) as response:
        if response.status_code != 200:
            raise ApiError(502, "upstream_error", f"the {service} service answered {response.status_code}")
        return response.json()


@bp.route("/api/v1/", defaults={"rest": ""}, methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
@bp.route("/api/v1/<path:rest>", methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
def forward(rest: str) -> Response:
    if _has_dot_or_empty_segment(request.path):
        raise ApiError(400, "invalid_path", "the path has an empty, '.' or '..' segment", None)
    owner = owner_of(request.path)
    if owner is None or owner == GATEWAY:
        raise not_found("API route")  # gateway paths with a view never get here
    caller = require_caller()
    path_qs = quote(request.path, safe="/:@!$&'()*+,;=-._~")
    if request.query_string:
        path_qs += "?" + request.query_string.decode("latin-1")
    upstream = call(owner, request.method, path_qs, _upstream_headers(caller.account, owner), _request_body())
    return _relay(owner, upstream)


def _has_dot_or_empty_segment(path: str) -> bool:
    """We route on the raw path, but a client or a server behind us may normalise `a/../b` or `a//b` into
    another route than the one we checked: such paths are refused. One trailing slash is allowed."""
    segments = path.split("/")[1:]
    if segments and segments[-1] == "":
        segments = segments[:-1]
    return any(segment in ("", ".", "..") for segment in segments)


def _relay(owner: str, upstream: requests.Response) -> Response:
    headers = [(name, value) for name in RESPONSE_HEADERS if (value := upstream.headers.get(name))]
    location = upstream.headers.get("Location", "")
    base = upstreams().urls[owner]
    if location.startswith(base):
        headers = [(n, v) for n, v in headers if n != "Location"] + [("Location", location[len(base) :] or "/")]
    length = upstream.headers.get("Content-Length")
    if length is not None and not upstream.headers.get("Content-Encoding"):
        headers.append(("Content-Length", length))
    body: Iterator[bytes] | list[bytes] = [] if request.method == "HEAD" else upstream.iter_content(CHUNK)
    response = Response(body, status=upstream.status_code, headers=headers, direct_passthrough=True)
    if "Content-Type" not in upstream.headers:
        del response.headers["Content-Type"]
    response.call_on_close(upstream.close)
    return response
