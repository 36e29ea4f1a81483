"""Turn an accepted upload into what people see: page previews, a thumbnail, searchable text.

PDFs are rendered page by page with pypdfium2, images are decoded and re-encoded with Pillow (dropping EXIF,
GPS and any trailing payload), videos are probed with PyAV (`adapters.video`: codecs, size, duration) and get a
thumbnail from a frame ~1 s in (no pages: `page_count` stays 0). Text comes from the PDF's text layer, or from
OCR (`adapters.ocr`, best-effort) for images and for the first few PDF pages that have no text layer (scans).
Everything here may raise `Rejected(reason)`; nothing here touches the database.
"""

from __future__ import annotations

import functools
import io
import logging
from dataclasses import dataclass, field

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_raw
from PIL import Image, ImageOps

from services.posters.adapters import video
from services.posters.adapters.inspection import (
    Rejected,
    check_image_structure,
    check_pdf_structure,
    check_video_structure,
)
from services.posters.adapters.ocr import OcrSettings, PosterOcr
from services.posters.domain.files import Kind
from services.posters.settings import Limits

log = logging.getLogger(__name__)

PIL_FORMATS = {Kind.PNG: "PNG", Kind.JPEG: "JPEG", Kind.WEBP: "WEBP"}
MAX_ASPECT = 8  # a page 8x taller than wide is a banner, not a poster; also bounds preview pixels
MAX_OCR_SCALE = 300 / 72  # scanned PDF pages are rendered for OCR at most at 300 dpi


@dataclass(frozen=True)
class RenderedPage:
    png: bytes
    width: int
    height: int


@dataclass
class Processed:
    page_count: int = 0
    pages: list[RenderedPage] = field(default_factory=list)
    thumbnail: bytes | None = None
    text: str = ""
    keep_original: bool = True  # False for images: only the re-encoded copy is kept
    duration_s: float | None = None  # videos only


def process(kind: Kind, data: bytes, limits: Limits, ocr: OcrSettings | None = None) -> Processed:
    if kind is Kind.PDF:
        return _process_pdf(data, limits, PosterOcr(ocr or default_ocr_settings()))
    if kind.media == "video":
        return _process_video(kind, data, limits)
    return _process_image(kind, data, limits, PosterOcr(ocr or default_ocr_settings()))


@functools.cache
def default_ocr_settings() -> OcrSettings:
    return OcrSettings.from_env()


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=False, compress_level=6)  # no info/exif/icc passed: stripped
    return out.getvalue()


def _thumbnail(image: Image.Image, width: int) -> bytes:
    thumb = image.copy()
    thumb.thumbnail((width, width * MAX_ASPECT), Image.Resampling.LANCZOS)
    return _png(thumb)


# --- PDF ------------------------------------------------------------------------------------------------
def _process_pdf(data: bytes, limits: Limits, ocr: PosterOcr) -> Processed:
    check_pdf_structure(data)
    try:
        pdf = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        if "password" in str(exc).lower():
            raise Rejected("the PDF is password-protected; upload an unprotected copy") from None
        raise Rejected("the PDF is damaged and cannot be read") from None
    try:
        if pdfium_raw.FPDF_GetSecurityHandlerRevision(pdf.raw) != -1:
            raise Rejected("the PDF is encrypted; upload an unprotected copy")
        if pdfium_raw.FPDFDoc_GetJavaScriptActionCount(pdf.raw) > 0:
            raise Rejected("the PDF contains active content (JavaScript); export it without scripts")
        if pdf.count_attachments() > 0:
            raise Rejected("the PDF contains embedded files; export it without attachments")
        count = len(pdf)
        if count == 0:
            raise Rejected("the PDF has no pages")
        if count > limits.max_pages:
            raise Rejected(f"the PDF has {count} pages; a poster may have at most {limits.max_pages}")
        result = Processed(page_count=count)
        texts: list[str] = []
        budget = limits.max_text_chars
        for index in range(count):
            page = pdf[index]
            try:
                image = _render_page(page, limits.preview_width)
                if index == 0:
                    result.thumbnail = _thumbnail(image, limits.thumbnail_width)
                result.pages.append(RenderedPage(_png(image), image.width, image.height))
                if budget > 0:
                    text = _page_text(page)
                    if not text and ocr.pdf_pages_left > 0 and ocr.usable:  # no text layer: a scan
                        ocr.pdf_pages_left -= 1
                        text = ocr.read(_render_for_ocr(page, ocr.settings.max_pixels), f"page {index + 1}")
                    text = text[:budget]
                    budget -= len(text)
                    texts.append(text)
            finally:
                page.close()
        result.text = "\n".join(t for t in texts if t)
        return result
    finally:
        pdf.close()


def _render_page(page: pdfium.PdfPage, target_width: int) -> Image.Image:
    width, height = page.get_size()  # points; rotation already applied by pdfium for size
    if width <= 1 or height <= 1:
        raise Rejected("the PDF has a page with no size")
    if max(width, height) / min(width, height) > MAX_ASPECT:
        raise Rejected("the PDF has a page with an extreme shape (more than 8:1)")
    # Scale to the preview width, whatever the page's nominal size: a 200-inch page costs no more pixels.
    scale = target_width / width
    bitmap = page.render(scale=scale, may_draw_forms=False)
    try:
        return bitmap.to_pil().convert("RGB")
    finally:
        bitmap.close()


def _render_for_ocr(page: pdfium.PdfPage, max_pixels: int) -> Image.Image:
    """A scanned page at the resolution OCR wants (the preview is too small to read body text)."""
    width, height = page.get_size()  # already checked by _render_page
    scale = min((max_pixels / (width * height)) ** 0.5, MAX_OCR_SCALE)
    bitmap = page.render(scale=scale, may_draw_forms=False, grayscale=True)
    try:
        return bitmap.to_pil()
    finally:
        bitmap.close()


def _page_text(page: pdfium.PdfPage) -> str:
    textpage = page.get_textpage()
    try:
        return " ".join(textpage.get_text_bounded().split())
    finally:
        textpage.close()


# --- images ---------------------------------------------------------------------------------------------
def _process_image(kind: Kind, data: bytes, limits: Limits, ocr: PosterOcr) -> Processed:
    check_image_structure(kind, data)
    try:
        with Image.open(io.BytesIO(data), formats=[PIL_FORMATS[kind]]) as image:
            # Only the header is read so far: refuse decompression bombs before decoding a single pixel.
            width, height = image.size
            if width * height > limits.max_pixels:
                raise Rejected(
                    f"the image is {width}x{height} pixels; at most {limits.max_pixels:,} pixels are accepted"
                )
            if max(width, height) / max(1, min(width, height)) > MAX_ASPECT:
                raise Rejected("the image has an extreme shape (more than 8:1)")
            image.load()
            upright = ImageOps.exif_transpose(image)
            clean = upright.convert("RGBA" if "A" in upright.getbands() else "RGB")
    except Rejected:
        raise
    except Image.DecompressionBombError:
        raise Rejected(
            f"the image has far too many pixels (decompression bomb); at most {limits.max_pixels:,} are accepted"
        ) from None
    except (OSError, SyntaxError, ValueError) as exc:
        log.info("image refused", extra={"error": str(exc)})
        raise Rejected("the image is damaged or truncated and cannot be decoded") from None
    preview = clean.copy()
    preview.thumbnail((limits.preview_width, limits.preview_width * MAX_ASPECT), Image.Resampling.LANCZOS)
    return Processed(
        page_count=1,
        pages=[RenderedPage(_png(preview), preview.width, preview.height)],
        thumbnail=_thumbnail(clean, limits.thumbnail_width),
        text=ocr.read(clean)[: limits.max_text_chars],  # the decoded pixels only: no metadata reaches Tesseract
        keep_original=False,
    )


# --- videos ---------------------------------------------------------------------------------------------
def _process_video(kind: Kind, data: bytes, limits: Limits) -> Processed:
    check_video_structure(kind, data)  # cheap container checks first: obvious junk never reaches FFmpeg
    info = video.probe(kind, data, max_seconds=limits.max_video_seconds, max_pixels=limits.max_video_pixels)
    # The original is kept: it is what browsers play. The thumbnail is a re-encoded PNG, like image posters'.
    return Processed(thumbnail=_thumbnail(info.frame, limits.thumbnail_width), duration_s=info.duration_s)
