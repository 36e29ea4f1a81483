"""Use cases of profiles, the people directory and contact requests. One unit of work each.

Every card of a person that leaves this module is made by `cards_of`: the profile redacted for the viewer
(domain.redact) before anything else looks at it. Search filters and facets only see those cards, so a hidden
field never shows, never matches and never counts; a withdrawn field is gone from the next request on."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.matching.adapters.orm import InsightDayRow, Outbox, ProjectCopy
from services.matching.directory import domain
from services.matching.directory.domain import Card, Filters
from services.matching.directory.models import ConsentChange, ContactRequest, Profile
from services.matching.registration.models import PersonCopy, Registration
from services.matching.registration.service import Person, keep_person
from services.matching.service import NotFound
from services.matching.setup import service as setup
from services.matching.setup.domain import Refused
from shared import outbox
from shared.db import Database
from shared.events import ContactAccepted, ContactRequested, utcnow

MAX_PENDING_PER_DAY = 30  # requests one person may have waiting for an answer per insight day
HISTORY_SHOWN = 20


@dataclass(frozen=True)
class Viewer:
    person: Person  # as the gateway vouches for them (kept in matching's copy of people on writes)
    organiser: bool = False

    @property
    def user_id(self) -> int:
        return self.person.user_id


# --- profiles ----------------------------------------------------------------------------------------------
def _row_profile(row: Profile) -> domain.Profile:
    values: dict[str, domain.Value] = {}
    for name, (_, is_list, _, _) in domain.FIELDS.items():
        raw = getattr(row, name)
        values[name] = tuple(raw or ()) if is_list else (raw or "")
    return domain.Profile(values, {name: getattr(row, f"{name}_visibility") for name in domain.FIELDS})


def _default_profile(copy: PersonCopy | None) -> domain.Profile:
    """Someone who never saved a profile: organisation and region as given at registration, for everyone at
    their events; nothing else."""
    values = {name: domain.empty_value(name) for name in domain.FIELDS}
    if copy is not None:
        values["organisation"], values["region"] = copy.organisation or "", copy.region or ""
    return domain.Profile(values, dict(domain.DEFAULT_VISIBILITY))


def profile_of(row: Profile | None, copy: PersonCopy | None) -> domain.Profile:
    return _row_profile(row) if row is not None else _default_profile(copy)


@dataclass(frozen=True)
class ProfileView:
    user_id: int
    display_name: str
    profile: domain.Profile
    saved: bool  # False: the defaults, never saved
    updated_at: datetime | None
    history: list[ConsentChange] = field(default_factory=list)


def _suggestions(session: Session, user_id: int) -> dict[str, domain.Value]:
    """For a profile never saved: tools and interests from the person's latest registration and the titles of
    their projects, to start from (still shown to nobody until they choose)."""
    registration = session.scalars(
        select(Registration).where(Registration.user_id == user_id).order_by(Registration.updated_at.desc()).limit(1)
    ).first()
    titles = session.scalars(
        select(ProjectCopy.title)
        .where(ProjectCopy.owner_id == user_id, ProjectCopy.deleted.is_(False), ProjectCopy.hidden.is_(False))
        .order_by(ProjectCopy.id)
        .limit(domain.FIELDS["projects"][2])
    ).all()
    found: dict[str, domain.Value] = {"projects": tuple(t for t in titles if t)}
    if registration is not None:
        found["tools"] = tuple(registration.tools or ())[: domain.FIELDS["tools"][2]]
        found["interests"] = tuple(registration.interests or ())[: domain.FIELDS["interests"][2]]
    return found


def _view(session: Session, user_id: int, fallback_name: str) -> ProfileView:
    row = session.get(Profile, user_id)
    copy = session.get(PersonCopy, user_id)
    profile = profile_of(row, copy)
    if row is None:
        profile = domain.Profile({**profile.values, **_suggestions(session, user_id)}, profile.visibility)
    history = session.scalars(
        select(ConsentChange)
        .where(ConsentChange.user_id == user_id)
        .order_by(ConsentChange.id.desc())
        .limit(HISTORY_SHOWN)
    ).all()
    name = copy.display_name if copy is not None and copy.display_name else fallback_name
    return ProfileView(user_id, name, profile, row is not None, row.updated_at if row else None, list(history))


def get_profile(db: Database, person: Person) -> ProfileView:
    with db.unit_of_work() as session:
        return _view(session, person.user_id, person.display_name)


@dataclass(frozen=True)
class FieldChange:
    value: str | list[str] | None = None  # None: keep the value
    visibility: str | None = None  # None: keep the visibility


def save_profile(db: Database, person: Person, changes: Mapping[str, FieldChange]) -> ProfileView:
    """Change some fields' values and visibility (the others stay). Checked whole before anything is written;
    every visibility change is logged. Withdrawing consent is setting a visibility to `nobody`."""
    cleaned: dict[str, domain.Value] = {}
    for name, change in changes.items():
        if name not in domain.FIELDS:
            raise Refused(name, "not a profile field")
        if change.visibility is not None and change.visibility not in domain.VISIBILITIES:
            raise Refused(f"{name}.visibility", f"must be one of {', '.join(domain.VISIBILITIES)}")
        if change.value is not None:
            try:
                cleaned[name] = domain.clean_value(name, change.value)
            except Refused as exc:  # "tools.2" -> "tools.value.2", as the request body nests it
                rest = (exc.field or name)[len(name) :]
                raise Refused(f"{name}.value{rest}", exc.message) from None
    with db.unit_of_work() as session:
        keep_person(session, person)  # a write first: on SQLite the rest runs under the write lock
        row = session.get(Profile, person.user_id, with_for_update=True)
        if row is None:
            current = _default_profile(session.get(PersonCopy, person.user_id))
            row = Profile(user_id=person.user_id)
            for name in domain.FIELDS:
                value = current.values[name]
                setattr(row, name, list(value) if isinstance(value, tuple) else value)
                setattr(row, f"{name}_visibility", current.visibility[name])
            session.add(row)
        now = utcnow()
        for name, change in changes.items():
            if name in cleaned:
                value = cleaned[name]
                setattr(row, name, list(value) if isinstance(value, tuple) else value)
            if change.visibility is not None and change.visibility != getattr(row, f"{name}_visibility"):
                setattr(row, f"{name}_visibility", change.visibility)
                session.add(
                    ConsentChange(user_id=person.user_id, field=name, visibility=change.visibility, changed_at=now)
                )
        row.updated_at = now
        session.flush()
        return _view(session, person.user_id, person.display_name)


# --- cards (what one person may see of another) ----------------------------------------------------------------
def cards_of(session: Session, user_ids: Iterable[int], viewer_is_organiser: bool) -> dict[int, Card]:
    """The redacted cards of these people as this viewer may see them (also for coffee partners)."""
    ids = sorted(set(user_ids))
    found: dict[int, Card] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        rows = session.execute(
            select(PersonCopy, Profile)
            .select_from(PersonCopy)
            .outerjoin(Profile, Profile.user_id == PersonCopy.user_id)
            .where(PersonCopy.user_id.in_(chunk))
        ).all()
        for copy, row in rows:
            found[copy.user_id] = Card(
                copy.user_id, copy.display_name or "Attendee", domain.redact(profile_of(row, copy), viewer_is_organiser)
            )
    for user_id in ids:
        found.setdefault(user_id, Card(user_id, "Attendee", {}))  # not heard of yet: a name, nothing else
    return found


# --- the directory -----------------------------------------------------------------------------------------------
def is_registered(session: Session, event_id: int, user_id: int) -> bool:
    return (
        session.scalar(
            select(Registration.id).where(Registration.event_id == event_id, Registration.user_id == user_id)
        )
        is not None
    )


def _may_browse(session: Session, event_id: int, viewer: Viewer) -> None:
    if not viewer.organiser and not is_registered(session, event_id, viewer.user_id):
        raise Refused(
            None,
            "only people registered for this insight day can see who else comes: register for it first",
            status=403,
            code="not_registered",
        )


@dataclass(frozen=True)
class Contact:
    status: str  # none | requested (I asked) | asked_me | connected | declined
    request_id: int | None = None


@dataclass(frozen=True)
class SearchResult:
    cards: list[Card]
    contacts: dict[int, Contact]
    total: int
    page: int
    pages: int
    facets: dict[str, list[dict[str, object]]]
    everyone: int  # people registered for the day, viewer not counted


def _contact(row: ContactRequest | None, me: int) -> Contact:
    if row is None:
        return Contact("none")
    if row.status == "accepted":
        return Contact("connected", row.id)
    if row.status == "declined":
        return Contact("declined", row.id)
    return Contact("requested" if row.requester_id == me else "asked_me", row.id)


def search(db: Database, event_id: int, viewer: Viewer, filters: Filters, page: int = 1) -> SearchResult:
    """People registered for the day (the viewer left out), each as the viewer may see them, filtered on what is
    visible only; 20 a page, by name."""
    with db.unit_of_work() as session:
        setup.day(session, event_id)
        _may_browse(session, event_id, viewer)
        ids = session.scalars(
            select(Registration.user_id).where(
                Registration.event_id == event_id, Registration.user_id != viewer.user_id
            )
        ).all()
        cards = sorted(
            cards_of(session, ids, viewer.organiser).values(), key=lambda c: (c.display_name.casefold(), c.user_id)
        )
        found = [c for c in cards if domain.matches(c, filters)]
        pages = max(1, -(-len(found) // domain.PER_PAGE))
        shown = found[(page - 1) * domain.PER_PAGE : page * domain.PER_PAGE]
        return SearchResult(
            shown,
            _contacts(session, viewer.user_id, [c.user_id for c in shown]),
            len(found),
            page,
            pages,
            domain.facets(cards),
            len(cards),
        )


def _contacts(session: Session, me: int, others: list[int]) -> dict[int, Contact]:
    if not others:
        return {}
    rows = session.scalars(
        select(ContactRequest).where(
            or_(
                (ContactRequest.person_low == me) & ContactRequest.person_high.in_(others),
                (ContactRequest.person_high == me) & ContactRequest.person_low.in_(others),
            )
        )
    ).all()
    by_other = {r.person_high if r.person_low == me else r.person_low: r for r in rows}
    return {other: _contact(by_other.get(other), me) for other in others}


# --- contact requests ----------------------------------------------------------------------------------------
class Conflict(Refused):
    def __init__(self, code: str, message: str, status: int = 409, field: str | None = None) -> None:
        super().__init__(field, message, status=status, code=code)


_EXISTING = {
    "requested": ("already_requested", "you have already asked this person; they have not answered yet"),
    "asked_me": ("asked_you", "this person has already asked to connect with you: accept their request in My contacts"),
    "connected": ("already_connected", "you are already connected"),
    "declined": ("declined", "a request between you two was declined; it cannot be sent again"),
}


def request_contact(db: Database, event_id: int, viewer: Viewer, recipient_id: int, message: str) -> ContactRequest:
    """Ask someone found in the day's directory to connect. Both must be at the day (the requester may be an
    organiser instead); one request per pair of people, ever."""
    if recipient_id == viewer.user_id:
        raise Refused("user_id", "you cannot ask yourself to connect")
    text = message.strip()
    if not text:
        raise Refused("message", "write a short message: say why you would like to connect")
    try:
        with db.unit_of_work() as session:
            setup.day(session, event_id)
            keep_person(session, viewer.person)  # a write first: on SQLite the rest runs under the write lock
            _may_browse(session, event_id, viewer)
            if not is_registered(session, event_id, recipient_id):
                raise NotFound("person")  # not in this day's directory (whether they exist is none of the caller's)
            existing = _pair(session, viewer.user_id, recipient_id)
            if existing is not None:
                code, why = _EXISTING[_contact(existing, viewer.user_id).status]
                raise Conflict(code, why)
            waiting = session.scalar(
                select(func.count())
                .select_from(ContactRequest)
                .where(
                    ContactRequest.requester_id == viewer.user_id,
                    ContactRequest.event_id == event_id,
                    ContactRequest.status == "pending",
                )
            )
            if (waiting or 0) >= MAX_PENDING_PER_DAY:
                raise Conflict(
                    "too_many_requests",
                    f"you have {MAX_PENDING_PER_DAY} requests waiting for an answer on this day: "
                    "wait for some answers first",
                )
            low, high = sorted((viewer.user_id, recipient_id))
            row = ContactRequest(
                event_id=event_id,
                requester_id=viewer.user_id,
                recipient_id=recipient_id,
                person_low=low,
                person_high=high,
                message=text,
                status="pending",
            )
            session.add(row)
            session.flush()  # the pair's unique key: a concurrent request between the two fails here
            outbox.record(
                session,
                Outbox,
                ContactRequested(
                    request_id=row.id,
                    event_id=event_id,
                    requester_id=viewer.user_id,
                    recipient_id=recipient_id,
                    message=text,
                ),
            )
            return row
    except IntegrityError:
        raise Conflict("already_requested", "a request between you two was just made") from None


def _pair(session: Session, a: int, b: int) -> ContactRequest | None:
    low, high = sorted((a, b))
    return session.scalars(
        select(ContactRequest).where(ContactRequest.person_low == low, ContactRequest.person_high == high)
    ).one_or_none()


def answer(db: Database, request_id: int, person_id: int, *, accept: bool) -> ContactRequest:
    """The person asked accepts or declines; only a waiting request can be answered."""
    with db.unit_of_work() as session:
        stmt = select(ContactRequest).where(ContactRequest.id == request_id).with_for_update()
        row = session.scalars(stmt.execution_options(populate_existing=True)).one_or_none()
        if row is None or person_id not in (row.requester_id, row.recipient_id):
            raise NotFound("contact request")
        if row.recipient_id != person_id:
            raise Conflict("forbidden", "only the person you asked can answer this request", status=403)
        if row.status != "pending":
            raise Conflict("answered", f"this request was already {row.status}")
        row.status = "accepted" if accept else "declined"
        row.answered_at = utcnow()
        if accept:
            outbox.record(
                session,
                Outbox,
                ContactAccepted(
                    request_id=row.id,
                    event_id=row.event_id,
                    requester_id=row.requester_id,
                    recipient_id=row.recipient_id,
                ),
            )
        return row


@dataclass(frozen=True)
class RequestView:
    request: ContactRequest
    other: Card  # the other person, as the viewer may see them
    event_title: str


@dataclass(frozen=True)
class MyRequests:
    incoming: list[RequestView]  # waiting for my answer
    outgoing: list[RequestView]  # I asked (waiting or declined)
    contacts: list[RequestView]  # accepted, whoever asked


def my_requests(db: Database, viewer: Viewer) -> MyRequests:
    me = viewer.user_id
    with db.unit_of_work() as session:
        rows = session.scalars(
            select(ContactRequest)
            .where(or_(ContactRequest.requester_id == me, ContactRequest.recipient_id == me))
            .order_by(ContactRequest.created_at.desc(), ContactRequest.id.desc())
        ).all()
        others = {r.id: (r.recipient_id if r.requester_id == me else r.requester_id) for r in rows}
        cards = cards_of(session, others.values(), viewer.organiser)
        titles = dict(
            session.execute(
                select(InsightDayRow.id, InsightDayRow.title).where(InsightDayRow.id.in_({r.event_id for r in rows}))
            ).all()
        )
        views = {r.id: RequestView(r, cards[others[r.id]], titles.get(r.event_id, "")) for r in rows}
        return MyRequests(
            incoming=[views[r.id] for r in rows if r.recipient_id == me and r.status == "pending"],
            outgoing=[views[r.id] for r in rows if r.requester_id == me and r.status != "accepted"],
            contacts=[views[r.id] for r in rows if r.status == "accepted"],
        )


def card_json(card: Card) -> dict[str, Any]:
    return {
        "user_id": card.user_id,
        "display_name": card.display_name,
        "fields": {k: list(v) if isinstance(v, tuple) else v for k, v in card.fields.items()},
    }
