"""The operator's view of the system: each service's health, each bus process's heartbeat, dead letters and how
far behind each consumer group is. Organisers only (they run the day); `/status` in the browser, JSON at
`/api/v1/system/status`."""

from __future__ import annotations

import json
from typing import Any

import redis
import requests
from flask import Blueprint, jsonify, render_template
from flask_login import current_user

from services.gateway.auth import require_caller
from services.gateway.proxy import call
from shared.bus import EVENTS_STREAM, heartbeat_key
from shared.config import SERVICES
from shared.dead_letters import DeadLetters
from shared.errors import ApiError
from shared.service_app import dependency_checks, redis_client

bp = Blueprint("system_status", __name__)

# Who consumes the stream (the gateway: chat rooms from matching's bookings).
CONSUMER_GROUPS = ("gateway", "posters", "matching", "notify")


def _web_health(service: str) -> dict[str, Any]:
    if service == "gateway":
        checks = dependency_checks()
        return {"status": "ok" if all(v == "ok" for v in checks.values()) else "degraded", **checks}
    try:
        with call(service, "GET", "/healthz", {"Accept": "application/json"}, None) as response:
            body = response.json()
    except (ApiError, ValueError, requests.RequestException):
        return {"status": "down", "database": "unknown", "redis": "unknown"}
    return {k: body.get(k, "unknown") for k in ("status", "database", "redis")}


def _bus_health(client: redis.Redis, service: str) -> dict[str, Any]:
    raw = client.get(heartbeat_key(service))
    if raw is None:
        return {"status": "no heartbeat", "stalled": []}
    beat = json.loads(raw)
    stalled = list(beat.get("stalled", [])) + list(beat.get("dead_threads", []))
    return {"status": "ok" if beat.get("ok") else "stalled", "stalled": stalled}


def _groups(client: redis.Redis) -> dict[str, dict[str, int | None]]:
    try:
        infos = client.xinfo_groups(EVENTS_STREAM)
    except redis.ResponseError:  # no stream yet
        return {}
    return {str(g["name"]): {"waiting": g.get("lag"), "held": int(g.get("pending", 0))} for g in infos}


def gather() -> dict[str, Any]:
    client = redis_client()
    dead = DeadLetters(client).counts()
    groups = _groups(client)
    services = []
    for service in SERVICES:
        group = groups.get(service, {}) if service in CONSUMER_GROUPS else {}
        services.append(
            {
                "service": service,
                "web": _web_health(service),
                "bus": _bus_health(client, service),
                "dead_letters": dead.get(service, 0),
                "waiting_events": group.get("waiting"),
                "held_events": group.get("held"),
            }
        )
    healthy = all(s["web"]["status"] == "ok" and s["bus"]["status"] == "ok" for s in services)
    return {"healthy": healthy, "dead_letters": sum(dead.values()), "services": services}


@bp.get("/api/v1/system/status")
def status_api():  # type: ignore[no-untyped-def]
    require_caller("organiser")
    return jsonify(gather())


@bp.get("/status")
def status_page():  # type: ignore[no-untyped-def]
    if not current_user.is_authenticated:
        raise ApiError(401, "unauthenticated", "sign in first")
    if not current_user.account.has_role("organiser"):
        raise ApiError(403, "forbidden", "requires role: organiser")
    return render_template("status.html", status=gather())
