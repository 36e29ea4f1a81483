"""OCR of image posters and scanned PDFs with the real Tesseract (Debian's tesseract-ocr), on generated posters."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from PIL import Image

from services.posters.adapters import ocr
from services.posters.adapters.ocr import OcrSettings, PosterOcr, prepare
from services.posters.adapters.processing import process
from services.posters.domain.files import Kind
from services.posters.settings import Limits, from_env
from tests.fixtures.posters import text_images as tx

LIMITS = Limits.from_config({**from_env(), "PREVIEW_WIDTH": 600, "THUMBNAIL_WIDTH": 120})
OCR = OcrSettings(timeout_s=60)


def test_tesseract_and_its_english_data_are_installed() -> None:
    # No skipping when it is missing: that would hide a broken install step (scripts/install.sh installs both).
    assert ocr.engine_problem("eng") is None


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
def test_image_poster_text_is_read(fmt: str) -> None:
    data = tx.encode(tx.text_image(["Zebrafish", "Lighthouse"]), fmt)
    result = process(Kind[fmt], data, LIMITS, OCR)
    assert result.page_count == 1 and not result.keep_original
    assert {"Zebrafish", "Lighthouse"} <= set(result.text.split())
    assert "Walrus" not in result.text


def test_transparent_poster_is_read_as_dark_text_on_paper() -> None:
    # Transparent pixels are black underneath: without flattening onto white the page would be all black.
    image = tx.text_image(["Marmalade"], mode="RGBA", paper=(0, 0, 0, 0), ink=(10, 10, 10, 255))
    assert "Marmalade" in process(Kind.PNG, tx.encode(image), LIMITS, OCR).text.split()


def test_big_poster_is_downscaled_before_ocr_and_still_read() -> None:
    data = tx.text_png(["Observatory"], (4000, 3000))
    result = process(Kind.PNG, data, LIMITS, OcrSettings(max_pixels=1_000_000, timeout_s=60))
    assert "Observatory" in result.text.split()


def test_prepare_caps_pixels_enlarges_small_images_and_flattens_alpha() -> None:
    big = prepare(Image.new("RGB", (6000, 4000), "white"), 2_000_000)
    assert (
        big.mode == "L" and big.width * big.height <= 2_000_000 and big.width / big.height == pytest.approx(1.5, 0.01)
    )
    assert prepare(Image.new("RGB", (600, 400)), 8_000_000).size == (1200, 800)  # small export: enlarged 2x
    assert prepare(Image.new("RGB", (2000, 1500)), 8_000_000).size == (2000, 1500)  # big enough: untouched
    clear = prepare(Image.new("RGBA", (100, 100), (0, 0, 0, 0)), 8_000_000)
    assert clear.getextrema() == (255, 255)  # fully transparent reads as white paper


def test_scanned_pdf_pages_are_read_up_to_the_cap() -> None:
    # One giant word per page: at OCR resolution its letters are ~400 px tall, which Tesseract only reads in the
    # small second pass (a poster's title), so this also proves that pass.
    data = tx.scanned_pdf([["Axolotl"], ["Pelican"], ["Tortoise"]])
    result = process(Kind.PDF, data, LIMITS, OcrSettings(pdf_pages=2, timeout_s=60))
    assert result.page_count == 3 and len(result.pages) == 3
    words = result.text.split()
    assert "Axolotl" in words and "Pelican" in words
    assert "Tortoise" not in words  # third scanned page: over the cap, not OCR'd


def test_pdf_with_a_text_layer_is_not_ocrd() -> None:
    from tests.fixtures import posters as fx

    # "Alpha page" is short: only an empty text layer means a scan, so the text stays exactly the PDF's own.
    result = process(Kind.PDF, fx.pdf(1, ["Alpha page"]), LIMITS, OCR)
    assert result.text == "Alpha page"


def test_without_tesseract_posters_are_still_processed_and_it_is_said_once(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty directory: no tesseract binary to be found
    data = tx.text_png(["Zebrafish"])
    with caplog.at_level(logging.WARNING, logger=ocr.__name__):
        first = process(Kind.PNG, data, LIMITS, OCR)
        second = process(Kind.PNG, data, LIMITS, OCR)
    assert first.text == second.text == "" and first.page_count == 1 and first.pages
    warnings = [r.getMessage() for r in caplog.records if r.name == ocr.__name__]
    assert len(warnings) == 1 and "tesseract is not installed" in warnings[0]


def test_ocr_that_overruns_its_time_is_killed_and_the_poster_still_processed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A dense 8-megapixel page takes Tesseract far longer than a fifth of a second even to load its model.
    data = tx.text_png([f"Paragraph{i}" for i in range(40)], (2400, 3300))
    with caplog.at_level(logging.WARNING, logger=ocr.__name__):
        result = process(Kind.PNG, data, LIMITS, OcrSettings(timeout_s=0.2))
    assert result.text == "" and result.page_count == 1 and result.pages
    assert any("poster OCR gave up" in r.getMessage() for r in caplog.records)


def test_budget_is_shared_by_the_pages_of_one_poster(caplog: pytest.LogCaptureFixture) -> None:
    reader = PosterOcr(OcrSettings(timeout_s=60))
    reader.deadline = 0.0  # as if the earlier pages of this poster had used it all
    with caplog.at_level(logging.WARNING, logger=ocr.__name__):
        assert reader.read(tx.text_image(["Zebrafish"])) == ""
    assert any("budget used up" in r.getMessage() for r in caplog.records)


def test_ocr_can_be_switched_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POSTER_OCR", "off")
    monkeypatch.setenv("POSTER_OCR_TIMEOUT_S", "12.5")
    monkeypatch.setenv("POSTER_OCR_PDF_PAGES", "0")
    settings = OcrSettings.from_env()
    assert (settings.enabled, settings.timeout_s, settings.pdf_pages, settings.lang) == (False, 12.5, 0, "eng")
    assert process(Kind.PNG, tx.text_png(["Zebrafish"]), LIMITS, settings).text == ""
