"""Limits of the posters service, from the environment (overridable per app in create_app(config))."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

MiB = 1024 * 1024

# config key -> (environment variable, default)
DEFAULTS: dict[str, tuple[str, Any]] = {
    "POSTER_MAX_BYTES": ("POSTER_MAX_BYTES", 25 * MiB),
    "VIDEO_MAX_BYTES": ("VIDEO_MAX_BYTES", 60 * MiB),
    "VIDEO_MAX_SECONDS": ("VIDEO_MAX_SECONDS", 300),
    "VIDEO_MAX_PIXELS": ("VIDEO_MAX_PIXELS", 3840 * 2160),  # 4K UHD frames; 8K and odd giant sizes are refused
    "POSTER_MAX_PAGES": ("POSTER_MAX_PAGES", 40),
    "POSTER_MAX_PIXELS": ("POSTER_MAX_PIXELS", 60_000_000),
    "POSTERS_PER_PROJECT": ("POSTERS_PER_PROJECT", 20),
    "PREVIEW_WIDTH": ("POSTER_PREVIEW_WIDTH", 1400),
    "THUMBNAIL_WIDTH": ("POSTER_THUMBNAIL_WIDTH", 400),
    "MAX_TEXT_CHARS": ("POSTER_MAX_TEXT_CHARS", 200_000),
    "UPLOAD_RATE_LIMIT": ("UPLOAD_RATE_LIMIT", "20/minute"),
    # Per-person quotas (quotas.py; organisers are exempt): projects over all insight days, and the bytes of their
    # poster and video files that are not rejected.
    "MAX_PROJECTS_PER_USER": ("POSTERS_MAX_PROJECTS_PER_USER", 10),
    "MAX_STORAGE_MB_PER_USER": ("POSTERS_MAX_STORAGE_MB_PER_USER", 500.0),  # MiB
    # `posters.sweep_orphan_blobs` (beat, hourly) removes unreferenced files older than this.
    "ORPHAN_AFTER_S": ("POSTER_ORPHAN_AFTER_S", 24 * 3600),
    # `posters.requeue_stale` (beat): re-send posters still `processing` this long after upload, checked this often.
    # Keep STALE_AFTER_S above the task's time_limit (240 s) plus the usual queue wait: a poster re-sent while its
    # first task still runs is processed twice at once (harmless, but each run counts as an attempt).
    "STALE_AFTER_S": ("POSTER_STALE_AFTER_S", 600),
    "REQUEUE_EVERY_S": ("POSTER_REQUEUE_EVERY_S", 300),
}


def from_env() -> dict[str, Any]:
    config: dict[str, Any] = {}
    for key, (env, default) in DEFAULTS.items():
        raw = os.environ.get(env)
        config[key] = default if raw in (None, "") else type(default)(raw)
    return config


@dataclass(frozen=True)
class Limits:
    max_poster_bytes: int
    max_video_bytes: int
    max_pages: int
    max_pixels: int
    posters_per_project: int
    preview_width: int
    thumbnail_width: int
    max_text_chars: int
    max_video_seconds: int = 300
    max_video_pixels: int = 3840 * 2160
    max_storage_bytes_per_user: int = 500 * MiB

    @classmethod
    def from_config(cls, config: Any) -> Limits:
        return cls(
            max_poster_bytes=int(config["POSTER_MAX_BYTES"]),
            max_video_bytes=int(config["VIDEO_MAX_BYTES"]),
            max_pages=int(config["POSTER_MAX_PAGES"]),
            max_pixels=int(config["POSTER_MAX_PIXELS"]),
            posters_per_project=int(config["POSTERS_PER_PROJECT"]),
            preview_width=int(config["PREVIEW_WIDTH"]),
            thumbnail_width=int(config["THUMBNAIL_WIDTH"]),
            max_text_chars=int(config["MAX_TEXT_CHARS"]),
            max_video_seconds=int(config["VIDEO_MAX_SECONDS"]),
            max_video_pixels=int(config["VIDEO_MAX_PIXELS"]),
            max_storage_bytes_per_user=int(float(config.get("MAX_STORAGE_MB_PER_USER", 500)) * MiB),
        )
