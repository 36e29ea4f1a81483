"""Deep checks of an upload's bytes, before anything is decoded for real (run in the worker).

Each check raises `Rejected(reason)` with a sentence the author can act on. The checks are structural and
cheap; decoding with pypdfium2/Pillow comes after they pass (`adapters.processing`).
"""

from __future__ import annotations

import io
import re
import struct
import zipfile
import zlib

from services.posters.domain.files import Kind


class Rejected(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# PDF names that mean active content: scripts, launching programs, embedded files, forms that phone home.
ACTIVE_PDF_NAMES = {
    b"JavaScript",
    b"JS",
    b"Launch",
    b"EmbeddedFile",
    b"EmbeddedFiles",
    b"RichMedia",
    b"XFA",
    b"SubmitForm",
    b"ImportData",
    b"GoToE",
}
_NAME = re.compile(rb"/([A-Za-z0-9#]{2,40})")
_HEX_ESCAPE = re.compile(rb"#([0-9A-Fa-f]{2})")
_STREAM = re.compile(rb"stream\r?\n")
MAX_INFLATED = 64 * 1024 * 1024  # budget for looking inside compressed PDF streams (no zip bombs here)


def not_a_zip(data: bytes) -> None:
    """A file that is also a valid ZIP (PDF+ZIP, image+JAR...) is a polyglot."""
    if zipfile.is_zipfile(io.BytesIO(data)):
        raise Rejected("the file is also a ZIP archive (polyglot file)")


# --- PDF ------------------------------------------------------------------------------------------------
def check_pdf_structure(data: bytes) -> None:
    if not data.startswith(b"%PDF-"):
        raise Rejected("not a PDF file")
    end = data.rfind(b"%%EOF")
    if end == -1:
        raise Rejected("the PDF is truncated (no end-of-file marker)")
    if b"startxref" not in data[max(0, end - 1024) : end]:
        raise Rejected("the PDF is malformed (no cross-reference pointer before its end)")
    if data[end + 5 :].strip(b"\r\n\t \x00"):
        raise Rejected("the PDF has data after its end (polyglot or damaged file)")
    not_a_zip(data)
    if b"/Encrypt" in data:
        raise Rejected("the PDF is encrypted or password-protected; upload an unprotected copy")
    active = sorted({n.decode() for n in _active_names(data)})
    if active:
        raise Rejected(f"the PDF contains active content ({', '.join(active)}); export it without scripts")


def _names_in(chunk: bytes) -> set[bytes]:
    found = set()
    for match in _NAME.finditer(chunk):
        name = _HEX_ESCAPE.sub(lambda m: bytes([int(m.group(1), 16)]), match.group(1))
        if name in ACTIVE_PDF_NAMES:
            found.add(name)
    return found


def _active_names(data: bytes) -> set[bytes]:
    """Active-content names in the file and inside its compressed streams (object streams can hide them)."""
    found = _names_in(data)
    budget = MAX_INFLATED
    for match in _STREAM.finditer(data):
        if budget <= 0:
            break
        start = match.end()
        stop = data.find(b"endstream", start)
        if stop == -1:
            break
        try:
            inflated = zlib.decompressobj().decompress(data[start:stop], budget)
        except zlib.error:
            continue  # not Flate (images, fonts in other filters): nothing to see
        budget -= len(inflated)
        found |= _names_in(inflated)
    return found


# --- images ---------------------------------------------------------------------------------------------
def check_image_structure(kind: Kind, data: bytes) -> None:
    not_a_zip(data)
    if kind is Kind.PNG:
        _check_png_chunks(data)
    elif kind is Kind.JPEG:
        if not data.rstrip(b"\x00").endswith(b"\xff\xd9"):
            raise Rejected("the JPEG is truncated or has data after its end")
    elif kind is Kind.WEBP:
        (riff_size,) = struct.unpack("<I", data[4:8])
        if riff_size + 8 + (riff_size & 1) < len(data) or riff_size + 8 > len(data):
            raise Rejected("the WebP is truncated or has data after its end")


def _check_png_chunks(data: bytes) -> None:
    pos = 8
    while pos + 12 <= len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        end = pos + 12 + length
        if end > len(data):
            break
        if zlib.crc32(data[pos + 4 : end - 4]) != struct.unpack(">I", data[end - 4 : end])[0]:
            raise Rejected("the PNG is damaged (checksum mismatch)")
        pos = end
        if kind == b"IEND":
            if data[pos:].strip(b"\x00"):
                raise Rejected("the PNG has data after its end (polyglot or damaged file)")
            return
    raise Rejected("the PNG is truncated")


# --- video ----------------------------------------------------------------------------------------------
def check_video_structure(kind: Kind, data: bytes) -> None:
    not_a_zip(data)
    if kind is Kind.MP4:
        _check_mp4_boxes(data)
    else:
        _check_webm(data)


def _check_mp4_boxes(data: bytes) -> None:
    """Top-level boxes must tile the file exactly and include a movie header and media data."""
    pos, seen = 0, set()
    while pos < len(data):
        if pos + 8 > len(data):
            raise Rejected("the MP4 is truncated")
        size, box = struct.unpack(">I4s", data[pos : pos + 8])
        if size == 1:
            if pos + 16 > len(data):
                raise Rejected("the MP4 is truncated")
            (size,) = struct.unpack(">Q", data[pos + 8 : pos + 16])
        elif size == 0:
            size = len(data) - pos
        if size < 8 or pos + size > len(data):
            raise Rejected("the MP4 is truncated or malformed")
        if not all(32 <= c < 127 for c in box):
            raise Rejected("the MP4 is malformed")
        seen.add(box)
        pos += size
    if not {b"ftyp", b"moov", b"mdat"} <= seen:
        raise Rejected("the MP4 has no playable movie (missing moov or mdat)")


def _vint(data: bytes, pos: int, *, strip_marker: bool) -> tuple[int, int]:
    """An EBML variable-length integer at pos -> (value, length). Unknown sizes come back as -1."""
    if pos >= len(data) or data[pos] == 0:
        raise Rejected("the WebM is malformed")
    first = data[pos]
    length = 8 - first.bit_length() + 1
    if pos + length > len(data):
        raise Rejected("the WebM is truncated")
    value = first & (0xFF >> length) if strip_marker else first
    for b in data[pos + 1 : pos + length]:
        value = (value << 8) | b
    if strip_marker and value == (1 << (7 * length)) - 1:
        return -1, length
    return value, length


def _check_webm(data: bytes) -> None:
    pos = 0
    seen: set[int] = set()
    while pos < len(data):
        element, n = _vint(data, pos, strip_marker=False)
        size, m = _vint(data, pos + n, strip_marker=True)
        pos += n + m
        seen.add(element)
        if size == -1:  # live-streamed segment of unknown size: runs to the end of the file
            pos = len(data)
            break
        if pos + size > len(data):
            raise Rejected("the WebM is truncated")
        if element == 0x1A45DFA3 and b"webm" not in data[pos : pos + size]:
            raise Rejected("the file is Matroska but not WebM")
        pos += size
    if not {0x1A45DFA3, 0x18538067} <= seen:
        raise Rejected("the WebM has no media segment")
