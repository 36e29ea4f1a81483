"""Use cases of registrations: attendees register (and change it until the deadline), organisers list, import and
export them; the copy of people kept from UserRegistered. One unit of work each."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from services.matching.registration import domain
from services.matching.registration.domain import Choices, RowError
from services.matching.registration.models import PersonCopy, Registration
from services.matching.service import NotFound
from services.matching.setup import service as setup
from services.matching.setup.domain import Refused
from services.matching.setup.models import DaySetup
from shared.db import Database
from shared.events import UserRegistered, utcnow


@dataclass(frozen=True)
class Person:
    user_id: int
    email: str
    display_name: str = ""
    organisation: str = ""
    region: str = ""


class ImportRefused(ValueError):
    """The file has bad rows: nothing was imported; `errors` names every one (row as in the file, column)."""

    def __init__(self, errors: list[RowError]) -> None:
        super().__init__(f"{len(errors)} problems")
        self.errors = errors


# --- people ----------------------------------------------------------------------------------------------------
def keep_person(session: Session, person: Person) -> None:
    """Insert or refresh the copy of a person (from UserRegistered, or from the caller's signed identity)."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    values = {
        "email": person.email.strip().lower(),
        "display_name": person.display_name[:200],
        "organisation": person.organisation[:200],
        "region": person.region[:120],
        "updated_at": utcnow(),
    }
    stmt = insert(PersonCopy).values(user_id=person.user_id, **values)
    session.execute(stmt.on_conflict_do_update(index_elements=[PersonCopy.user_id], set_=values))


def keep_registered_user(session: Session, event: UserRegistered) -> None:
    keep_person(session, Person(event.user_id, event.email, event.display_name, event.organisation, event.region))


def _user_ids(session: Session, emails: set[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    ordered = sorted(emails)
    for start in range(0, len(ordered), 500):
        chunk = ordered[start : start + 500]
        for user_id, email in session.execute(
            select(PersonCopy.user_id, PersonCopy.email).where(PersonCopy.email.in_(chunk)).order_by(PersonCopy.user_id)
        ):
            found[email] = user_id  # the newest account wins if an address ever appeared twice
    return found


# --- an attendee's own registration ---------------------------------------------------------------------------
def _shared_setup_lock(session: Session, event_id: int) -> DaySetup | None:
    """The day's set-up row, share-locked (PostgreSQL): a thesaurus change or an import waits for this
    registration and the other way round, while registrations do not wait for each other."""
    stmt = select(DaySetup).where(DaySetup.event_id == event_id).with_for_update(read=True)
    return session.scalars(stmt.execution_options(populate_existing=True)).one_or_none()


def _save(session: Session, event_id: int, user_id: int, choices: Choices, source: str) -> tuple[Registration, bool]:
    """Insert or replace the person's registration for the day (one row per person and day, whatever races)."""
    now = utcnow()
    setup.insert_ignoring_duplicate(
        session,
        Registration,
        event_id=event_id,
        user_id=user_id,
        themes=[],
        tools=[],
        interests=[],
        source=source,
        created_at=now,
        updated_at=now,
    )
    stmt = select(Registration).where(Registration.event_id == event_id, Registration.user_id == user_id)
    row = session.scalars(stmt.with_for_update().execution_options(populate_existing=True)).one()
    created = not row.themes
    row.themes, row.tools, row.interests = list(choices.themes), list(choices.tools), list(choices.interests)
    row.source = source
    row.updated_at = now
    return row, created


def register(
    db: Database, event_id: int, person: Person, themes: list[str], tools: list[str], interests: list[str]
) -> Registration:
    with db.unit_of_work() as session:
        setup.day(session, event_id)
        keep_person(session, person)  # a write first: on SQLite the rest runs under the write lock
        day_setup = _shared_setup_lock(session, event_id)
        if day_setup is not None and not setup.registration_open(day_setup):
            raise Refused(
                None,
                "registration for this insight day closed at its deadline; ask the organisers to change it",
                status=409,
                code="registration_closed",
            )
        choices = domain.choices(themes, tools, interests, setup.thesaurus_of(session, event_id))
        row, _ = _save(session, event_id, person.user_id, choices, "form")
        session.flush()
        return row


def get_registration(db: Database, event_id: int, user_id: int) -> Registration:
    with db.unit_of_work() as session:
        setup.day(session, event_id)
        row = session.scalars(
            select(Registration).where(Registration.event_id == event_id, Registration.user_id == user_id)
        ).one_or_none()
        if row is None:
            raise NotFound(f"registration for event {event_id}")
        return row


def withdraw(db: Database, event_id: int, user_id: int) -> None:
    with db.unit_of_work() as session:
        setup.day(session, event_id)
        day_setup = _shared_setup_lock(session, event_id)
        if day_setup is not None and not setup.registration_open(day_setup):
            raise Refused(
                None, "registration for this insight day closed at its deadline", status=409, code="registration_closed"
            )
        row = session.scalars(
            select(Registration).where(Registration.event_id == event_id, Registration.user_id == user_id)
        ).one_or_none()
        if row is None:
            raise NotFound(f"registration for event {event_id}")
        session.delete(row)


# --- organisers --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Listed:
    registration: Registration
    person: PersonCopy | None


def list_registrations(db: Database, event_id: int, page: int = 1, per_page: int = 50) -> tuple[list[Listed], int]:
    with db.unit_of_work() as session:
        setup.day(session, event_id)
        total = session.scalar(select(func.count()).select_from(Registration).where(Registration.event_id == event_id))
        rows = session.execute(
            select(Registration, PersonCopy)
            .outerjoin(PersonCopy, PersonCopy.user_id == Registration.user_id)
            .where(Registration.event_id == event_id)
            .order_by(func.lower(func.coalesce(PersonCopy.display_name, "")), Registration.user_id)
            .limit(per_page)
            .offset((page - 1) * per_page)
        )
        return [Listed(r, p) for r, p in rows], int(total or 0)


def export_rows(db: Database, event_id: int) -> list[dict[str, object]]:
    listed, total = list_registrations(db, event_id, 1, 1_000_000)
    return [
        {
            "email": item.person.email if item.person else "",
            "display_name": item.person.display_name if item.person else f"user {item.registration.user_id}",
            "organisation": item.person.organisation if item.person else "",
            "region": item.person.region if item.person else "",
            "themes": list(item.registration.themes or []),
            "tools": list(item.registration.tools or []),
            "interests": list(item.registration.interests or []),
            "updated_at": _iso(item.registration.updated_at),
        }
        for item in listed
    ]


def _iso(value: datetime) -> str:
    return setup.utc(value).isoformat()


@dataclass(frozen=True)
class Imported:
    created: int
    updated: int


def import_csv(db: Database, event_id: int, data: bytes) -> Imported:
    """All rows or none: any bad row (named with its row number and column) refuses the whole file.

    The organiser's import is not bound by the registration deadline; it replaces the listed people's
    registrations and leaves everyone else's alone."""
    with db.unit_of_work() as session:
        setup.lock_setup(session, event_id)  # no thesaurus change or attendee registration interleaves
        records, errors = domain.read_csv(data)
        result = domain.check_records(
            records, errors, setup.thesaurus_of(session, event_id), _user_ids(session, domain.emails_of(records))
        )
        if result.errors:
            raise ImportRefused(result.errors)
        if not result.rows:
            raise ImportRefused([RowError(1, None, "the file has no registrations (only a header)")])
        created = 0
        for item in result.rows:
            _, is_new = _save(session, event_id, item.user_id, item.choices, "import")
            created += is_new
        return Imported(created, len(result.rows) - created)
