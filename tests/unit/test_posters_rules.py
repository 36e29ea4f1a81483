"""Pure rules of the posters service: what a file is (by content), names, project fields, poster order."""

from __future__ import annotations

import pytest

from services.posters.domain import files, project
from services.posters.domain.files import Kind, UploadError
from services.posters.domain.poster import OrderError, can_view, check_order
from tests.fixtures import posters as fx

CAPS = {"max_poster_bytes": 10_000_000, "max_video_bytes": 20_000_000}


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (fx.pdf(1), Kind.PDF),
        (fx.png(10, 10), Kind.PNG),
        (fx.jpeg_with_gps(10, 10), Kind.JPEG),
        (fx.webp(10, 10), Kind.WEBP),
        (fx.mp4(), Kind.MP4),
        (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x84webm", Kind.WEBM),
        (fx.svg(), None),
        (fx.html(), None),
        (fx.zip_archive(), None),
        (b"GIF89a....", None),
        (b"\x00\x00\x00\x18ftypheic", None),  # HEIC is ISO media too, but not a video we accept
    ],
)
def test_sniff_reads_magic_bytes(data: bytes, kind: Kind | None) -> None:
    assert files.sniff(data[: files.SNIFF_BYTES]) is kind


@pytest.mark.parametrize(
    ("data", "needle"),
    [(fx.svg(), "SVG"), (fx.html(), "HTML"), (fx.zip_archive(), "ZIP"), (b"GIF89a", "GIF"), (b"\x01\x02", "unrec")],
)
def test_unsupported_content_is_named_in_the_error(data: bytes, needle: str) -> None:
    with pytest.raises(UploadError) as err:
        files.classify("x.png", data[:64], len(data), **CAPS)
    assert err.value.status == 415 and needle in str(err.value)


def test_classify_checks_size_per_kind_and_extension() -> None:
    pdf = fx.pdf(1)
    assert files.classify("Poster.PDF", pdf[:64], len(pdf), **CAPS) is Kind.PDF
    assert files.classify("a.jpeg", b"\xff\xd8\xff\xe0", 10, **CAPS) is Kind.JPEG
    with pytest.raises(UploadError) as err:
        files.classify("x.pdf", b"", 0, **CAPS)
    assert err.value.code == "empty_file"
    with pytest.raises(UploadError) as err:
        files.classify("x.pdf", pdf[:64], 10_000_001, **CAPS)
    assert err.value.status == 413
    # A video may be bigger than a poster, up to its own cap.
    assert files.classify("v.mp4", fx.mp4()[:64], 15_000_000, **CAPS) is Kind.MP4
    for name in ("x.png", "x", "x.pdf.exe", "pdf"):
        with pytest.raises(UploadError) as err:
            files.classify(name, pdf[:64], len(pdf), **CAPS)
        assert err.value.code == "extension_mismatch"


@pytest.mark.parametrize(
    "name", ["", "  ", "../a.pdf", "a/b.pdf", "a\\b.pdf", "..", ".htaccess", "a\x00.pdf", "a\u202egnp.pdf", "x" * 201]
)
def test_file_names_that_are_paths_or_tricks_are_refused(name: str) -> None:
    with pytest.raises(UploadError) as err:
        files.check_file_name(name)
    assert err.value.status == 400


def test_ordinary_file_names_are_kept() -> None:
    assert files.check_file_name(" Poster v2 (final).pdf ") == "Poster v2 (final).pdf"
    assert files.check_file_name("Résumé.png") == "Résumé.png"


def test_learnings_are_exactly_three_distinct() -> None:
    assert project.learnings([" a ", "b", "c"]) == ("a", "b", "c")
    for bad, field in ((["a", "b"], "learnings"), (["a", "", "c"], "learnings.1"), (["a", "A ", "c"], "learnings")):
        with pytest.raises(project.ProjectRuleError) as err:
            project.learnings(bad)
        assert err.value.field == field


def test_themes_follow_the_thesaurus_when_there_is_one() -> None:
    assert [t.label for t in project.themes_from_thesaurus(["privacy", "PRIVACY ", "AI"], [])] == ["privacy", "AI"]
    chosen = project.themes_from_thesaurus(["data  linkage"], ["Data linkage", "Privacy"])
    assert [(t.key, t.label) for t in chosen] == [("data linkage", "Data linkage")]
    with pytest.raises(project.ProjectRuleError) as err:
        project.themes_from_thesaurus(["Astrology"], ["Data linkage"])
    assert err.value.field == "themes" and "Astrology" in str(err.value)


def test_control_characters_are_dropped_from_text() -> None:
    assert project.clean_text("a\x00b\x1b[31m\nc ") == "ab[31m\nc"


def test_new_order_must_name_every_poster_once() -> None:
    assert check_order([1, 2, 3], [3, 1, 2]) == [3, 1, 2]
    for bad in ([1, 2], [1, 2, 3, 3], [1, 2, 4], []):
        with pytest.raises(OrderError):
            check_order([1, 2, 3], bad)


def test_visibility() -> None:
    assert can_view(status="ready", hidden=False, is_owner=False, is_organiser=False)
    assert not can_view(status="processing", hidden=False, is_owner=False, is_organiser=False)
    assert not can_view(status="ready", hidden=True, is_owner=False, is_organiser=False)
    assert can_view(status="rejected", hidden=True, is_owner=True, is_organiser=False)
    assert can_view(status="ready", hidden=True, is_owner=False, is_organiser=True)
