"""Use cases of spin-off suggestions: list a day's suggestions; turn one into a breakout (adding its theme to the
day's thesaurus when it is new) in one unit of work.

The thesaurus change and the breakout go through the set-up feature's own use cases, so they are checked and
announced exactly as when the organiser makes them by hand (ThesaurusUpdated with the next revision, breakout slot,
capacity, the published-schedule rule). Those use cases open their own unit of work; here they run inside this
one (`_Joined`), so the theme and the breakout are committed together or not at all.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import cast

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.matching.service import project_copies
from services.matching.setup import service as setup
from services.matching.setup.domain import Refused, Thesaurus
from services.matching.setup.models import Breakout
from services.matching.spinoffs import domain
from services.matching.spinoffs.domain import ExistingBreakout, ProjectText, Suggestion
from shared.db import Database


class StaleSuggestion(LookupError):
    """The key names no current suggestion (the projects changed since it was shown)."""


@dataclass(frozen=True)
class SuggestionsView:
    suggestions: list[Suggestion]
    projects_considered: int


def _suggestions(session: Session, event_id: int) -> SuggestionsView:
    """The day's suggestions from its published, visible, not deleted projects, as matching's copy has them."""
    projects = [
        ProjectText(
            id=p.id,
            title=p.title,
            summary=p.summary or "",
            learnings=tuple(p.learnings or ()),
            themes=tuple(p.themes or ()),
        )
        for p in project_copies(session, event_id)  # tombstones left out
        if not p.hidden
    ]
    breakouts = [
        ExistingBreakout(b.id, b.title, b.theme)
        for b in session.scalars(select(Breakout).where(Breakout.event_id == event_id).order_by(Breakout.id))
    ]
    found = domain.suggest(projects, setup.thesaurus_of(session, event_id), breakouts)
    return SuggestionsView(found, len(projects))


def list_suggestions(db: Database, event_id: int) -> SuggestionsView:
    with db.unit_of_work() as session:
        setup.day(session, event_id)  # NotFound for an unknown day
        return _suggestions(session, event_id)


@dataclass(frozen=True)
class Created:
    breakout: Breakout
    suggestion: Suggestion
    theme_added: bool
    thesaurus_revision: int


class _Joined:
    """Stands in for the Database in set-up's use cases: their unit of work is the caller's open one (flushed, not
    committed; an error still rolls the whole of it back)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    @contextmanager
    def unit_of_work(self) -> Iterator[Session]:
        yield self.session
        self.session.flush()


def create_breakout(
    db: Database,
    event_id: int,
    key: str,
    *,
    slot_id: int,
    capacity: int,
    title: str | None = None,
    meeting_url: str | None = None,
    force: bool = False,
) -> Created:
    """The suggestion `key` becomes a breakout on its theme in the slot `slot_id`; its theme joins the thesaurus
    first when the day does not have it yet. Raises StaleSuggestion when the key is not a current suggestion."""
    with db.unit_of_work() as session:
        # The day's set-up lock first: no thesaurus change or other click can slip between reading the
        # suggestion and acting on it (a second click on the same suggestion finds the theme already added).
        setup.lock_setup(session, event_id)
        suggestion = next((s for s in _suggestions(session, event_id).suggestions if s.key == key), None)
        if suggestion is None:
            raise StaleSuggestion(key)
        joined = cast(Database, _Joined(session))
        theme_added = False
        if not suggestion.theme_in_thesaurus:
            current = setup.thesaurus_of(session, event_id)
            try:
                grown = Thesaurus.of([*current.as_json(), suggestion.theme])
            except Refused as exc:
                raise Refused(
                    None,
                    f"{suggestion.theme!r} cannot become one of this day's themes ({exc.message}): add a fitting "
                    "theme on the Day set-up page and create the breakout there",
                    status=409,
                    code="theme_refused",
                ) from None
            setup.replace_thesaurus(joined, event_id, grown)
            theme_added = True
        changes = setup.BreakoutChanges(
            slot_id=slot_id,
            title=suggestion.title if title is None or not title.strip() else title,
            theme=suggestion.theme,
            capacity=capacity,
            meeting_url=meeting_url,
        )
        breakout = setup.create_breakout(joined, event_id, changes, force=force)
        revision = setup.setup_of(session, event_id).thesaurus_revision or 0
        return Created(breakout, suggestion, theme_added, revision)
