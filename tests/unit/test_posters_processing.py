"""Deep checks and rendering of uploads (what the worker runs), on generated files; no server needed."""

from __future__ import annotations

import io
import struct

import pytest
from PIL import Image

from services.posters.adapters.inspection import Rejected, check_video_structure
from services.posters.adapters.processing import process
from services.posters.adapters.storage import LocalBlobStorage, sha256
from services.posters.domain.files import Kind
from services.posters.settings import Limits, from_env
from tests.fixtures import posters as fx

LIMITS = Limits.from_config(
    {**from_env(), "POSTER_MAX_PAGES": 10, "POSTER_MAX_PIXELS": 4_000_000, "PREVIEW_WIDTH": 600, "THUMBNAIL_WIDTH": 120}
)


def test_pdf_is_rendered_page_by_page_with_text() -> None:
    result = process(Kind.PDF, fx.pdf(3, ["Alpha page", "Beta page", "Gamma page"]), LIMITS)
    assert result.page_count == 3 and len(result.pages) == 3 and result.keep_original
    assert all(p.width == 600 for p in result.pages)
    assert Image.open(io.BytesIO(result.pages[0].png)).size == (result.pages[0].width, result.pages[0].height)
    assert Image.open(io.BytesIO(result.thumbnail or b"")).width == 120
    assert result.text.split("\n") == ["Alpha page", "Beta page", "Gamma page"]


def test_text_extraction_is_capped() -> None:
    limits = Limits.from_config({**from_env(), "MAX_TEXT_CHARS": 15, "PREVIEW_WIDTH": 100})
    assert len(process(Kind.PDF, fx.pdf(3), limits).text) <= 15 + 2


@pytest.mark.parametrize(
    ("kind", "data", "reason"),
    [
        (Kind.PDF, fx.pdf(11), "11 pages"),
        (Kind.PDF, fx.truncated_pdf(), "truncated"),
        (Kind.PDF, fx.pdf(1)[:-30], "truncated"),
        (Kind.PDF, fx.pdf_with_javascript(), "JavaScript"),
        (Kind.PDF, fx.pdf_with_hidden_javascript(), "JavaScript"),
        (Kind.PDF, fx.pdf(1, extra_catalog="/Names << /EmbeddedFiles << /Names [] >> >> "), "EmbeddedFiles"),
        (Kind.PDF, fx.pdf(1, extra_catalog="/OpenAction << /S /Launch /F (cmd.exe) >> "), "Launch"),
        (Kind.PDF, fx.pdf_encrypted(), "encrypted"),
        (Kind.PDF, fx.pdf_zip_polyglot(), "polyglot"),
        (Kind.PDF, fx.pdf(1) + b"<html><script>alert(1)</script>", "after its end"),
        (Kind.PDF, b"%PDF-1.7\ngarbage\nstartxref\n0\n%%EOF\n", "damaged"),
        (Kind.PDF, fx.pdf(0), "damaged"),  # pdfium refuses an empty page tree
        (Kind.PNG, fx.png_bomb(), "pixels"),
        (Kind.PNG, fx.png(2100, 2000), "pixels"),  # over this test's 4 MP limit, under Pillow's own
        (Kind.PNG, fx.png(100, 100)[:-20], "truncated"),
        (Kind.PNG, fx.png_with_trailer(), "after its end"),
        (Kind.PNG, fx.png(100, 100) + fx.zip_archive(), "ZIP"),
        (Kind.PNG, fx.png(2000, 100), "extreme shape"),
        (Kind.JPEG, fx.jpeg_with_gps()[:-200], "truncated"),
        (Kind.WEBP, fx.webp()[:-10], "truncated"),
        (Kind.MP4, fx.truncated_mp4(), "truncated"),
        (Kind.MP4, fx.mp4() + b"trailing", "truncated"),
        (Kind.MP4, fx.mp4()[:28] + struct.pack(">I", 8) + b"mdat", "moov"),
        (Kind.WEBM, b"\x1a\x45\xdf\xa3\x84webm", "no media segment"),
    ],
)
def test_hostile_or_broken_files_are_rejected_with_a_reason(kind: Kind, data: bytes, reason: str) -> None:
    with pytest.raises(Rejected) as err:
        process(kind, data, LIMITS)
    assert reason in err.value.reason


def test_png_with_bad_checksum_is_rejected() -> None:
    data = bytearray(fx.png(50, 50))
    data[40] ^= 0xFF  # inside the first IDAT
    with pytest.raises(Rejected):
        process(Kind.PNG, bytes(data), LIMITS)


def test_images_are_re_encoded_upright_and_without_metadata() -> None:
    result = process(Kind.JPEG, fx.jpeg_with_gps(800, 400), LIMITS)
    assert not result.keep_original and result.page_count == 1
    page = Image.open(io.BytesIO(result.pages[0].png))
    assert page.format == "PNG" and page.size == (600, 300) and not page.getexif()
    assert b"SecretCam" not in result.pages[0].png


def test_webm_with_a_segment_passes_the_structure_check() -> None:
    header = b"\x1a\x45\xdf\xa3\x84webm"
    segment = b"\x18\x53\x80\x67\x82\x00\x00"
    check_video_structure(Kind.WEBM, header + segment)
    with pytest.raises(Rejected, match="not WebM"):
        check_video_structure(Kind.WEBM, b"\x1a\x45\xdf\xa3\x88matroska" + segment)
    with pytest.raises(Rejected, match="cannot be read"):  # then FFmpeg finds nothing to play in it
        process(Kind.WEBM, header + segment, LIMITS)


def test_storage_is_content_addressed_and_refuses_other_names(tmp_path) -> None:  # type: ignore[no-untyped-def]
    storage = LocalBlobStorage(tmp_path)
    sha = storage.put(b"poster")
    assert sha == sha256(b"poster") and storage.put(b"poster") == sha and storage.count() == 1
    assert storage.read(sha) == b"poster" and storage.size(sha) == 6
    for bad in ("../../etc/passwd", sha.upper(), sha[:-1] + "/"):
        with pytest.raises(ValueError):
            storage.read(bad)
    storage.delete(sha)
    assert not storage.exists(sha) and storage.count() == 0
