"""What an upload is, judged by its bytes (magic numbers), never by its name. Pure: no Flask, no I/O.

These are the fast checks done while the request waits; deep checks (pages, pixels, scripts, encryption,
polyglots, decoding) run in the worker (`adapters.processing`).
"""

from __future__ import annotations

import unicodedata
from enum import StrEnum


class Kind(StrEnum):
    PDF = "pdf"
    PNG = "png"
    JPEG = "jpeg"
    WEBP = "webp"
    MP4 = "mp4"
    WEBM = "webm"

    @property
    def media(self) -> str:
        return "video" if self in (Kind.MP4, Kind.WEBM) else "poster"

    @property
    def mime(self) -> str:
        return MIME[self]


MIME = {
    Kind.PDF: "application/pdf",
    Kind.PNG: "image/png",
    Kind.JPEG: "image/jpeg",
    Kind.WEBP: "image/webp",
    Kind.MP4: "video/mp4",
    Kind.WEBM: "video/webm",
}
EXTENSIONS = {
    Kind.PDF: (".pdf",),
    Kind.PNG: (".png",),
    Kind.JPEG: (".jpg", ".jpeg"),
    Kind.WEBP: (".webp",),
    Kind.MP4: (".mp4", ".m4v"),
    Kind.WEBM: (".webm",),
}
# ISO base media brands of ordinary MP4 video (not HEIF images, not QuickTime-only files).
MP4_BRANDS = {b"isom", b"iso2", b"iso4", b"iso5", b"iso6", b"mp41", b"mp42", b"avc1", b"M4V ", b"dash", b"mmp4"}
SNIFF_BYTES = 64


class UploadError(ValueError):
    """An upload refused while the request waits: `status` is the HTTP status, `code` the error code."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


def sniff(head: bytes) -> Kind | None:
    """The accepted kind the first bytes announce, or None."""
    if head.startswith(b"%PDF-"):
        return Kind.PDF
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return Kind.PNG
    if head.startswith(b"\xff\xd8\xff"):
        return Kind.JPEG
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return Kind.WEBP
    if head[4:8] == b"ftyp" and head[8:12] in MP4_BRANDS:
        return Kind.MP4
    if head.startswith(b"\x1a\x45\xdf\xa3") and b"webm" in head[:SNIFF_BYTES]:
        return Kind.WEBM
    return None


def describe(head: bytes) -> str:
    """A human name for content we do not accept, for the error message."""
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")):
        return "a ZIP archive"
    if b"<svg" in head.lower() or (text.startswith(b"<?xml") and b"svg" in head.lower()):
        return "an SVG image"
    if text.startswith((b"<!doctype html", b"<html", b"<head", b"<body", b"<script")):
        return "an HTML document"
    if text.startswith(b"<"):
        return "an XML/HTML document"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "a GIF image"
    if head[4:8] == b"ftyp":
        return "an unsupported ISO media file (HEIC/QuickTime?)"
    return "an unrecognised file type"


def check_file_name(raw: str | None) -> str:
    """The name as shown to people. Names that try to be paths are refused outright: we never use the name
    to store anything, but a name like "../../x" is an attack, not a poster."""
    name = (raw or "").strip()
    if not name:
        raise UploadError(400, "invalid_file_name", "the file needs a name")
    if len(name) > 200:
        raise UploadError(400, "invalid_file_name", "the file name is longer than 200 characters")
    if "/" in name or "\\" in name or ".." in name or name.startswith("."):
        raise UploadError(400, "invalid_file_name", "the file name must not contain a path")
    if any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in name):
        raise UploadError(400, "invalid_file_name", "the file name contains control characters")
    return unicodedata.normalize("NFC", name)


def extension_of(name: str) -> str:
    dot = name.rfind(".")
    return name[dot:].lower() if dot > 0 else ""


def classify(name: str, head: bytes, size: int, *, max_poster_bytes: int, max_video_bytes: int) -> Kind:
    """Kind of an upload from its content, checked against its size cap and its name's extension."""
    if size == 0:
        raise UploadError(400, "empty_file", "the file is empty")
    kind = sniff(head)
    if kind is None:
        raise UploadError(
            415,
            "unsupported_type",
            f"the file is {describe(head)}; upload a PDF, PNG, JPEG or WebP poster or an MP4/WebM video",
        )
    cap = max_video_bytes if kind.media == "video" else max_poster_bytes
    if size > cap:
        raise UploadError(413, "file_too_large", f"a {kind.value.upper()} file may be at most {cap // 1024} KiB")
    ext = extension_of(name)
    if ext not in EXTENSIONS[kind]:
        raise UploadError(
            400,
            "extension_mismatch",
            f"the content is {kind.value.upper()} but the name ends in {ext or 'no extension'}; "
            f"expected {' or '.join(EXTENSIONS[kind])}",
        )
    return kind
