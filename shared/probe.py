"""Health probes for processes without an HTTP port (compose healthchecks).

`python -m shared.probe bus SERVICE`: the service's bus process has written its heartbeat recently and every one
of its loops (relay, consumer, housekeeping) has made progress lately; prints what is stalled otherwise.
`python -m shared.probe beat FILE`: Celery beat has touched its schedule file recently.
"""

from __future__ import annotations

import json
import os
import sys
import time

from shared.bus import connect, heartbeat_key

BEAT_STALE_S = 600


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in ("bus", "beat"):
        print("usage: python -m shared.probe bus SERVICE | beat SCHEDULE_FILE", file=sys.stderr)
        return 2
    kind, target = argv
    if kind == "bus":
        return bus_healthy(target, os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    try:
        return 0 if time.time() - os.path.getmtime(target) < BEAT_STALE_S else 1
    except OSError:
        return 1


def bus_healthy(service: str, redis_url: str) -> int:
    try:
        raw = connect(redis_url).get(heartbeat_key(service))
    except Exception as exc:  # noqa: BLE001 - a probe reports, it does not crash
        print(f"redis unreachable: {exc}", file=sys.stderr)
        return 1
    if raw is None:
        print(f"no recent heartbeat from the {service} bus process", file=sys.stderr)
        return 1
    try:
        beat = json.loads(raw)
    except ValueError:
        return 1
    if not beat.get("ok"):
        print(f"{service} bus unhealthy: {json.dumps(beat)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
