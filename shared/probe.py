"""Health probes for processes without an HTTP port (compose healthchecks).

`python -m shared.probe bus SERVICE`: the service's bus process has written its heartbeat recently.
`python -m shared.probe beat FILE`: Celery beat has touched its schedule file recently.
"""

from __future__ import annotations

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
        client = connect(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
        return 0 if client.exists(heartbeat_key(target)) else 1
    try:
        return 0 if time.time() - os.path.getmtime(target) < BEAT_STALE_S else 1
    except OSError:
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
