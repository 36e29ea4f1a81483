"""gunicorn config for `bench_chat.py --profile DIR`: cProfile in every thread of the worker (a thread per
websocket under gthread), merged and written to DIR/gateway-<pid>.prof every few seconds (the bench stops the
gateways with a signal to the whole process group, so an exit hook is not to be relied on)."""

from __future__ import annotations

import cProfile
import os
import pstats
import threading
import time
from typing import Any

_profiles: list[cProfile.Profile] = []
_lock = threading.Lock()


def _start_in_thread(*_args: Any) -> None:
    # Called once as the new thread's first profile event: replace this hook with a real profiler for the thread.
    profile = cProfile.Profile()
    with _lock:
        _profiles.append(profile)
    profile.enable()


def post_worker_init(_worker: Any) -> None:
    threading.setprofile(_start_in_thread)
    threading.Thread(target=_dump_every, args=(3.0,), daemon=True).start()


def _dump_every(seconds: float) -> None:
    while True:
        time.sleep(seconds)
        try:
            _dump()
        except Exception as exc:  # noqa: BLE001 - a profile is best effort; keep trying
            print(f"profile dump failed: {exc!r}", flush=True)


def _dump() -> None:
    with _lock:
        profiles = list(_profiles)
    if not profiles:
        return
    stats = pstats.Stats(profiles[0])
    for profile in profiles[1:]:
        stats.add(profile)
    out = os.path.join(os.environ["BENCH_PROFILE_DIR"], f"gateway-{os.getpid()}.prof")
    stats.dump_stats(out)
