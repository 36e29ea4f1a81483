"""Best-effort OCR of poster images (and of scanned PDF pages) with Tesseract, through pytesseract.

Tesseract runs as a child process (pytesseract), not in the worker's own memory: a timeout kills it, so a hostile
or huge poster cannot stall a worker, and a crash in Tesseract cannot take the worker down. Nothing here ever
rejects a poster: on any failure the text is simply empty and the reason is logged (validation lives elsewhere).
"""

from __future__ import annotations

import functools
import logging
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from PIL import Image

from shared.config import env, flag

try:  # the service must keep working (without OCR) on a machine where the binding is missing
    import pytesseract
except ImportError:  # pragma: no cover - pytesseract is a declared dependency
    pytesseract = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

MIN_CONFIDENCE = 40  # words Tesseract itself doubts are mostly noise from photos and charts: keep them out of search
MAX_UPSCALE = 2.0  # small exports (slides at 1024 px) read better enlarged; more only invents pixels
COARSE_PIXELS = 1_000_000  # second, small pass over big images: giant title letters read well only there
SMALL_SIDE = 1600  # longest side under which an image counts as small enough to enlarge
MIN_CALL_S = 0.1  # no point starting Tesseract with less time than this left in the poster's budget


@dataclass(frozen=True)
class OcrSettings:
    enabled: bool = True
    lang: str = "eng"
    timeout_s: float = 30.0  # for the whole poster (image, or all OCR'd PDF pages together)
    max_pixels: int = 8_000_000  # what Tesseract sees; bigger posters are downscaled first
    pdf_pages: int = 3  # PDF pages without a text layer that are OCR'd, from the first

    @classmethod
    def from_env(cls) -> OcrSettings:
        return cls(
            enabled=flag("POSTER_OCR", True),
            lang=env("POSTER_OCR_LANG") or cls.lang,
            timeout_s=float(env("POSTER_OCR_TIMEOUT_S") or cls.timeout_s),
            max_pixels=int(env("POSTER_OCR_MAX_PIXELS") or cls.max_pixels),
            pdf_pages=int(env("POSTER_OCR_PDF_PAGES") or cls.pdf_pages),
        )


def engine_problem(lang: str) -> str | None:
    """Why OCR cannot run here (None if it can). Checked, and warned about, once per process and setup."""
    command = pytesseract.pytesseract.tesseract_cmd if pytesseract else "tesseract"
    return _engine_problem(command, lang, os.environ.get("PATH", ""))


@functools.cache
def _engine_problem(command: str, lang: str, path: str) -> str | None:
    problem: str | None = None
    if pytesseract is None:
        problem = "the pytesseract package is not installed"
    elif shutil.which(command, path=path) is None:
        problem = "tesseract is not installed (Debian: apt-get install tesseract-ocr tesseract-ocr-eng)"
    else:
        try:
            languages = pytesseract.get_languages()
        except (OSError, pytesseract.TesseractError) as exc:
            problem = f"tesseract does not run: {exc}"
        else:
            missing = [code for code in lang.split("+") if code not in languages]
            if missing:
                problem = f"tesseract has no language data for {', '.join(missing)} (Debian: tesseract-ocr-eng)"
    if problem:
        log.warning("poster OCR is off: %s; image posters will not be searchable by their text", problem)
    return problem


def prepare(image: Image.Image, max_pixels: int) -> Image.Image:
    """Grey image at a size Tesseract reads well: big posters downscaled to `max_pixels`, small ones enlarged."""
    width, height = image.size
    scale = min((max_pixels / max(1, width * height)) ** 0.5, MAX_UPSCALE)
    if scale > 1 and max(width, height) >= SMALL_SIDE:
        scale = 1.0
    if abs(scale - 1) > 0.05:
        size = (max(1, int(width * scale)), max(1, int(height * scale)))  # floor: never over the cap
        method = Image.Resampling.LANCZOS if scale < 1 else Image.Resampling.BICUBIC
        image = image.resize(size, method)
    if "A" in image.getbands():  # transparent areas are often black underneath: read them as paper instead
        paper = Image.new("RGB", image.size, (255, 255, 255))
        paper.paste(image, mask=image.getchannel("A"))
        image = paper
    return image.convert("L")


@contextmanager
def _one_thread() -> Iterator[None]:
    """Tesseract's OpenMP threads fight the worker (and each other) for cores; one thread per call is several
    times faster on a busy small machine. pytesseract passes os.environ to the child, so set it around the call."""
    if "OMP_THREAD_LIMIT" in os.environ:  # the operator chose
        yield
        return
    os.environ["OMP_THREAD_LIMIT"] = "1"
    try:
        yield
    finally:
        os.environ.pop("OMP_THREAD_LIMIT", None)


class PosterOcr:
    """The OCR of one poster: every page read shares the poster's time budget."""

    def __init__(self, settings: OcrSettings) -> None:
        self.settings = settings
        self.deadline: float | None = None
        self.pdf_pages_left = settings.pdf_pages

    @property
    def usable(self) -> bool:
        return self.settings.enabled and engine_problem(self.settings.lang) is None

    def read(self, image: Image.Image, what: str = "image") -> str:
        """The words Tesseract is fairly sure of, space-separated; "" when OCR is off, fails or runs out of time.

        A big image is read twice: at the full OCR size for body text, then small for the poster's giant title,
        whose letters are too tall for Tesseract at full size (it finds nothing in 400-pixel glyphs)."""
        if not self.usable:
            return ""
        fine = prepare(image, self.settings.max_pixels)
        passes = [fine]
        if fine.width * fine.height > 2 * COARSE_PIXELS:
            passes.append(prepare(fine, COARSE_PIXELS))
        words: list[str] = []
        seen: set[str] = set()
        for grey in passes:
            found = self._tesseract(grey, what)
            if found is None:
                break
            for word in found:
                if word.lower() not in seen:
                    seen.add(word.lower())
                    words.append(word)
        return " ".join(words)

    def _tesseract(self, grey: Image.Image, what: str) -> list[str] | None:
        """One Tesseract run within what is left of the poster's budget; None when it failed or ran out."""
        if self.deadline is None:  # the budget starts with the first read: decoding is not OCR's time
            self.deadline = time.monotonic() + self.settings.timeout_s
        left = self.deadline - time.monotonic()
        if left < MIN_CALL_S:
            log.warning("poster OCR skipped: time budget used up", extra={"ocr_page": what})
            return None
        try:
            with _one_thread():
                data = pytesseract.image_to_data(
                    grey, lang=self.settings.lang, output_type=pytesseract.Output.DICT, timeout=left
                )
        except RuntimeError as exc:  # pytesseract's timeout (the child is killed)
            log.warning("poster OCR gave up: %s", exc, extra={"ocr_page": what, "timeout_s": round(left, 1)})
            return None
        except (OSError, pytesseract.TesseractError) as exc:
            log.warning("poster OCR failed: %s", exc, extra={"ocr_page": what})
            return None
        return _confident_words(data)


def _confident_words(data: dict[str, list]) -> list[str]:
    words = []
    for word, confidence in zip(data.get("text", []), data.get("conf", []), strict=False):
        word = str(word).strip()
        try:
            sure = float(confidence) >= MIN_CONFIDENCE
        except (TypeError, ValueError):
            sure = False
        if sure and any(c.isalnum() for c in word):
            words.append(word)
    return words
