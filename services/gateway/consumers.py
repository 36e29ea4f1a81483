"""Events from other services that the gateway applies (none yet: it only publishes so far)."""

from __future__ import annotations

from flask import Flask

from shared.bus import Handler


def handlers(app: Flask) -> dict[str, Handler]:
    return {}
