"""Shared set-up of the posters benchmarks: a real redis-server, a migrated posters app in a temp dir."""

from __future__ import annotations

import os
import statistics
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flask import Flask  # noqa: E402

from shared.db import migrate  # noqa: E402
from tests.support.processes import RedisServer  # noqa: E402


@contextmanager
def posters_stack(tmp: Path, **config: object) -> Iterator[tuple[Flask, RedisServer]]:
    redis = RedisServer(tmp / "redis")
    redis.start()
    os.environ.update(APP_ENV="test", REDIS_URL=redis.url, VAR_DIR=str(tmp / "var"), RATE_LIMITS="off")
    os.environ.pop("POSTERS_DATABASE_URL", None)
    os.environ.pop("STORAGE_DIR", None)
    from services.posters import create_app

    app = create_app(dict(config) or None)
    migrate("posters", app.config["DATABASE_URL"])
    try:
        yield app, redis
    finally:
        app.extensions["db"].dispose()
        redis.stop()


def percentile(values: list[float], p: float) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(p) - 1]


def row(label: str, ours: list[float], floor: list[float]) -> str:
    o50, o95 = percentile(ours, 50), percentile(ours, 95)
    f50, f95 = percentile(floor, 50), percentile(floor, 95)
    return (
        f"{label:<34} p50 {o50 * 1000:8.1f} ms vs {f50 * 1000:8.1f} ms  ratio {o50 / f50:6.2f}x   "
        f"p95 {o95 * 1000:8.1f} ms vs {f95 * 1000:8.1f} ms  ratio {o95 / f95:6.2f}x"
    )
