"""Rules of a project's description. Pure: no Flask, no database."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

MAX_THEMES = 8
MAX_TOOLS = 20
MAX_QUESTIONS = 5
MAX_AUTHORS = 20


class ProjectRuleError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def label_key(label: str) -> str:
    """The form filters compare: NFKC, casefolded, inner whitespace collapsed ("  Machine  learning" == "machine
    learning")."""
    return " ".join(unicodedata.normalize("NFKC", label).casefold().split())


def clean_label(label: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", label).split())


@dataclass(frozen=True)
class Label:
    key: str
    label: str


def labels(field: str, raw: Iterable[str], maximum: int) -> list[Label]:
    """Distinct non-empty labels in the order given (duplicates differing only in case/space are merged)."""
    seen: dict[str, Label] = {}
    for item in raw:
        text = clean_label(item)
        if not text:
            raise ProjectRuleError(field, "entries must not be empty")
        seen.setdefault(label_key(text), Label(label_key(text), text))
    if len(seen) > maximum:
        raise ProjectRuleError(field, f"at most {maximum} distinct entries")
    return list(seen.values())


def themes_from_thesaurus(raw: Iterable[str], thesaurus: Iterable[str]) -> list[Label]:
    """Themes must come from the event's thesaurus when it has one; they take the thesaurus' spelling."""
    chosen = labels("themes", raw, MAX_THEMES)
    canonical = {label_key(t): t for t in thesaurus}
    if not canonical:
        return chosen
    unknown = [c.label for c in chosen if c.key not in canonical]
    if unknown:
        raise ProjectRuleError("themes", f"not in this event's thesaurus: {', '.join(unknown)}")
    return [Label(c.key, canonical[c.key]) for c in chosen]


def learnings(raw: list[str]) -> tuple[str, str, str]:
    """Exactly three learnings ("top three learnings"), each written out and different from the others."""
    items = [clean_text(x) for x in raw]
    if len(items) != 3:
        raise ProjectRuleError("learnings", "give exactly three learnings")
    for i, item in enumerate(items):
        if not item:
            raise ProjectRuleError(f"learnings.{i}", "a learning must not be empty")
    if len({label_key(x) for x in items}) != 3:
        raise ProjectRuleError("learnings", "the three learnings must differ")
    return items[0], items[1], items[2]


def questions(raw: list[str]) -> list[str]:
    items = [clean_text(x) for x in raw]
    if any(not x for x in items):
        raise ProjectRuleError("questions", "questions must not be empty")
    if len(items) > MAX_QUESTIONS:
        raise ProjectRuleError("questions", f"at most {MAX_QUESTIONS} questions")
    return items


def clean_text(text: str) -> str:
    """Strip and drop control characters except newlines (they break search snippets and terminals)."""
    normal = unicodedata.normalize("NFC", text)
    return "".join(c for c in normal if c in "\n\t" or unicodedata.category(c) != "Cc").strip()
