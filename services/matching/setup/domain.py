"""Rules of a day's set-up: the thesaurus of themes (with synonyms), slots and themed breakouts. Pure: no Flask,
no database."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.events import as_utc as utc

SLOT_KINDS = ("breakout", "posters", "coffee", "chat")
MAX_THEMES = 200
MAX_SYNONYMS = 20
MAX_LABEL = 100
MAX_CAPACITY = 10_000
LIST_SEPARATORS = (",", ";")  # CSV cells list several themes with these, so no theme name may contain them


class Refused(ValueError):
    """A change the rules refuse; `field` names the input at fault (e.g. "themes.2.synonyms.0")."""

    def __init__(self, field: str | None, message: str, *, status: int = 400, code: str = "invalid") -> None:
        super().__init__(message)
        self.field = field
        self.message = message
        self.status = status
        self.code = code


def label_key(label: str) -> str:
    """How labels compare: NFKC, casefolded, whitespace collapsed ("  Machine  Learning" == "machine learning")."""
    return " ".join(unicodedata.normalize("NFKC", label).casefold().split())


def clean_label(label: str) -> str:
    """The label as shown: NFKC with whitespace collapsed, the organiser's capitals kept."""
    return " ".join(unicodedata.normalize("NFKC", label).split())


# --- thesaurus ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Theme:
    name: str
    synonyms: tuple[str, ...] = ()

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "synonyms": list(self.synonyms)}


@dataclass(frozen=True)
class Thesaurus:
    """A day's themes in the organiser's order; every name and synonym folds (case- and space-blind) to one theme."""

    themes: tuple[Theme, ...] = ()

    @classmethod
    def of(cls, raw: Iterable[Any]) -> Thesaurus:
        """From the API's entries: plain names or {"name", "synonyms"}. Refused names the entry at fault."""
        entries = list(raw)
        if len(entries) > MAX_THEMES:
            raise Refused("themes", f"at most {MAX_THEMES} themes")
        taken: dict[str, str] = {}  # key -> where it was given first ("themes.0" or "themes.0.synonyms.1")
        themes: list[Theme] = []
        for i, entry in enumerate(entries):
            where = f"themes.{i}"
            if isinstance(entry, str):
                name_raw, synonyms_raw = entry, []
            elif isinstance(entry, Mapping):
                unknown = set(entry) - {"name", "synonyms"}
                if unknown:
                    raise Refused(f"{where}.{sorted(unknown)[0]}", "unknown field (a theme has a name and synonyms)")
                name_raw, synonyms_raw = entry.get("name"), entry.get("synonyms", [])
                if not isinstance(synonyms_raw, list):
                    raise Refused(f"{where}.synonyms", "synonyms must be a list of names")
                if len(synonyms_raw) > MAX_SYNONYMS:
                    raise Refused(f"{where}.synonyms", f"at most {MAX_SYNONYMS} synonyms per theme")
            else:
                raise Refused(where, "a theme is a name or {name, synonyms}")
            name_where = where if isinstance(entry, str) else f"{where}.name"
            name = _label(name_where, name_raw)
            _claim(taken, label_key(name), name_where, name)
            synonyms: list[str] = []
            for j, synonym_raw in enumerate(synonyms_raw):
                synonym = _label(f"{where}.synonyms.{j}", synonym_raw)
                if label_key(synonym) == label_key(name) or synonym in synonyms:
                    continue  # the theme's own name, or repeated: harmless
                _claim(taken, label_key(synonym), f"{where}.synonyms.{j}", synonym)
                synonyms.append(synonym)
            themes.append(Theme(name, tuple(synonyms)))
        return cls(tuple(themes))

    def names(self) -> list[str]:
        return [t.name for t in self.themes]

    def fold(self, label: str) -> str | None:
        """The theme a name or synonym stands for ("ML" -> "machine learning"); None if the day has no such theme."""
        return self._folding().get(label_key(label))

    def _folding(self) -> dict[str, str]:
        folding: dict[str, str] = {}
        for theme in self.themes:
            folding[label_key(theme.name)] = theme.name
            for synonym in theme.synonyms:
                folding[label_key(synonym)] = theme.name
        return folding

    def as_json(self) -> list[dict[str, Any]]:
        return [t.as_json() for t in self.themes]


def _label(where: str, raw: object) -> str:
    if not isinstance(raw, str):
        raise Refused(where, "must be a text")
    label = clean_label(raw)
    if not label:
        raise Refused(where, "must not be empty")
    if len(label) > MAX_LABEL:
        raise Refused(where, f"at most {MAX_LABEL} characters")
    if any(sep in label for sep in LIST_SEPARATORS):
        raise Refused(where, f"{label!r}: theme names and synonyms cannot contain commas or semicolons")
    return label


def _claim(taken: dict[str, str], key: str, where: str, label: str) -> None:
    if key in taken:
        raise Refused(where, f"{label!r} is already given at {taken[key]}: each name may stand for one theme only")
    taken[key] = where


# --- slots ----------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SlotTimes:
    id: int | None
    starts_at: datetime
    ends_at: datetime
    kind: str


def check_slot(slot: SlotTimes, day_starts: datetime, day_ends: datetime, others: Iterable[SlotTimes]) -> None:
    """A slot lies within the day, ends after it starts and overlaps no other slot (touching ends is fine)."""
    if slot.kind not in SLOT_KINDS:
        raise Refused("kind", f"must be one of: {', '.join(SLOT_KINDS)}")
    start, end = utc(slot.starts_at), utc(slot.ends_at)
    if end <= start:
        raise Refused("ends_at", "must be after the start time")
    if start < utc(day_starts) or start >= utc(day_ends):
        raise Refused("starts_at", "must lie within the insight day")
    if end > utc(day_ends):
        raise Refused("ends_at", "must lie within the insight day (the slot ends after the day)")
    for other in others:
        if other.id == slot.id:
            continue
        if start < utc(other.ends_at) and utc(other.starts_at) < end:
            raise Refused(
                "starts_at",
                f"overlaps the {other.kind} slot {utc(other.starts_at):%H:%M}–{utc(other.ends_at):%H:%M} UTC "
                f"(slot {other.id}); slots of a day may not overlap",
                status=409,
                code="slot_overlap",
            )


# --- breakouts -------------------------------------------------------------------------------------------------
def check_capacity(capacity: int) -> int:
    if capacity < 1:
        raise Refused("capacity", "must be at least 1 (a breakout needs room for someone)")
    if capacity > MAX_CAPACITY:
        raise Refused("capacity", f"at most {MAX_CAPACITY}")
    return capacity


def check_title(title: str) -> str:
    text = " ".join(title.split())
    if len(text) < 2:
        raise Refused("title", "give the breakout a title (at least 2 characters)")
    if len(text) > 200:
        raise Refused("title", "at most 200 characters")
    return text


def check_meeting_url(url: str | None) -> str | None:
    if url is None or not url.strip():
        return None
    url = url.strip()
    if len(url) > 500:
        raise Refused("meeting_url", "at most 500 characters")
    if not url.lower().startswith("https://") or len(url) <= len("https://") or any(c.isspace() for c in url):
        raise Refused("meeting_url", "must be an https:// link")
    return url


def breakout_theme(theme: str, thesaurus: Thesaurus) -> str:
    """A breakout's theme comes from the day's thesaurus (a synonym is taken as its theme)."""
    folded = thesaurus.fold(theme)
    if folded is None:
        if not thesaurus.themes:
            raise Refused("theme", "this insight day has no themes yet: set up its thesaurus first")
        raise Refused("theme", f"{clean_label(theme)!r} is not one of this day's themes")
    return folded


def breakout_slot_kind(kind: str, slot_id: int) -> None:
    if kind != "breakout":
        raise Refused("slot_id", f"slot {slot_id} is a {kind} slot: breakouts go in breakout slots")
