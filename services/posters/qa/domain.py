"""Pure rules of project Q&A: what a question and an answer may be, and who sees the asker."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

QUESTION_MAX_CHARS = 1000
ANSWER_MAX_CHARS = 4000
QUESTIONS_PER_PERSON_AND_PROJECT = 20

# Control characters other than newline and tab never belong in a question (they can break terminals and logs).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


class QaRuleError(ValueError):
    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


def clean_text(value: str, field: str, maximum: int) -> str:
    """Normalised text (NFC, no control characters, trimmed); empty or too long is an error naming the field.
    Kept as plain text: pages render it with textContent, so markup in it stays inert."""
    text = _CONTROL.sub("", unicodedata.normalize("NFC", value)).strip()
    if not text:
        raise QaRuleError(f"{field} must not be empty", field)
    if len(text) > maximum:
        raise QaRuleError(f"{field} is longer than {maximum} characters", field)
    return text


@dataclass(frozen=True)
class Audience:
    """Who is looking at a question, as far as the asker's anonymity is concerned."""

    user_id: int
    is_organiser: bool


def shows_asker(anonymous: bool, asker_id: int, audience: Audience) -> bool:
    """An anonymous question hides its asker from everyone but the asker and organisers (moderation)."""
    return not anonymous or audience.is_organiser or audience.user_id == asker_id


def may_ask(owner_id: int, user_id: int) -> bool:
    """Authors answer on their own project; they do not ask themselves."""
    return owner_id != user_id


def may_delete(asker_id: int, user_id: int, is_organiser: bool) -> bool:
    """The asker may take a question back; organisers remove what does not belong (moderation)."""
    return asker_id == user_id or is_organiser
