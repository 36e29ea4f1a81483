"""Message schemas: past-tense dataclasses inside one envelope, JSON on the wire.

An `Envelope` carries (event_id, type, occurred_at, version, payload). Payload classes are registered by
their type name so a consumer can turn the wire JSON back into the typed dataclass. The envelope's `version` is
the payload's *schema* version. The snapshot events that other services keep copies from also carry a
`revision`: the version of the aggregate they describe (the source row's revision, +1 on every change). The bus
is at-least-once and retries a failed message later, so a consumer can see an older snapshot after a newer one:
it applies only revisions newer than the one it stored. `revision` None means the event was sent before
revisions existed; it is applied as it comes.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from typing import Any, ClassVar, TypeVar

_REGISTRY: dict[str, type[DomainEvent]] = {}
E = TypeVar("E", bound="DomainEvent")


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """Aware UTC. SQLite hands back naive datetimes; everything stored is UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class UnknownEventType(ValueError):
    pass


def is_newer(revision: int | None, stored: int | None) -> bool:
    """Whether a snapshot at `revision` may replace a copy kept at revision `stored` (None: no copy yet).

    A snapshot without a revision (sent before revisions existed) is applied as it comes, as before.
    """
    return revision is None or stored is None or revision > stored


@dataclass(frozen=True)
class DomainEvent:
    """Base for every payload. Subclasses set `version` when their schema changes."""

    version: ClassVar[int] = 1

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _REGISTRY[cls.__name__] = cls

    def envelope(self) -> Envelope:
        return Envelope(type=type(self).__name__, payload=asdict(self), version=self.version)


@dataclass(frozen=True)
class Envelope:
    type: str
    payload: dict[str, Any]
    event_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    occurred_at: str = field(default_factory=lambda: utcnow().isoformat())
    version: int = 1

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"), sort_keys=True)

    @classmethod
    def from_json(cls, raw: str | bytes) -> Envelope:
        data = json.loads(raw)
        return cls(
            type=str(data["type"]),
            payload=dict(data["payload"]),
            event_id=str(data["event_id"]),
            occurred_at=str(data["occurred_at"]),
            version=int(data.get("version", 1)),
        )

    def parse(self) -> DomainEvent:
        """The typed payload; unknown extra keys are ignored so producers can add fields first."""
        cls = _REGISTRY.get(self.type)
        if cls is None:
            raise UnknownEventType(self.type)
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in self.payload.items() if k in known})


# --- gateway --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class UserRegistered(DomainEvent):
    user_id: int
    email: str
    display_name: str
    organisation: str
    region: str
    roles: list[str]


@dataclass(frozen=True)
class UserRolesChanged(DomainEvent):
    """An organiser (or the create-organiser command) changed someone's roles; `roles` is the new full set."""

    user_id: int
    roles: list[str]


# --- matching -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class EventCreated(DomainEvent):
    """An insight day was created. Times are ISO-8601 in UTC; `timezone` is the IANA zone shown to users.

    `revision`: the insight day row's revision, +1 on every change (1 here); consumers apply only newer revisions.
    """

    event_id: int
    title: str
    starts_at: str
    ends_at: str
    timezone: str
    organiser_id: int
    revision: int | None = None


@dataclass(frozen=True)
class EventUpdated(DomainEvent):
    """The insight day after a change (full snapshot, same fields as EventCreated).

    `revision`: the insight day row's revision, +1 on every change; consumers apply only newer revisions.
    """

    event_id: int
    title: str
    starts_at: str
    ends_at: str
    timezone: str
    organiser_id: int
    revision: int | None = None


@dataclass(frozen=True)
class ThesaurusUpdated(DomainEvent):
    """The full list of theme names of an insight day after a change (posters checks project themes with it).

    `revision`: the day's thesaurus revision (its own counter, not the day's), +1 on every thesaurus change;
    consumers apply only newer revisions.
    """

    event_id: int
    themes: list[str]
    revision: int | None = None


@dataclass(frozen=True)
class ChatSlotBooked(DomainEvent):
    """An attendee holds an author's 1-1 chat slot (booked directly, or given it from the waitlist). `room_id` is
    the chat room's random, unguessable id, new for every booking; times are ISO-8601 in UTC; `event_id` is the
    insight day (its timezone is the one to show).

    `revision`: the slot's revision, +1 on every change of the slot or its booking; a copy keyed by slot applies
    only newer ones (a room id is booked once and cancelled at most once, so one keyed by room needs none).
    """

    slot_id: int
    room_id: str
    project_id: int
    event_id: int
    author_id: int
    attendee_id: int
    starts_at: str
    ends_at: str
    revision: int | None = None


@dataclass(frozen=True)
class ChatSlotCancelled(DomainEvent):
    """A booking ended before its chat: `reason` is `attendee_cancelled`, `author_cancelled` (the author cancelled
    the booking) or `slot_cancelled` (the author withdrew the slot). The room `room_id` closes for good.

    `revision`: the slot's revision, as in ChatSlotBooked.
    """

    slot_id: int
    room_id: str
    author_id: int
    attendee_id: int
    starts_at: str
    ends_at: str
    reason: str
    project_id: int | None = None
    event_id: int | None = None
    revision: int | None = None


@dataclass(frozen=True)
class ContactRequested(DomainEvent):
    """Someone asked a person they found in an insight day's people directory to connect. No e-mail address
    travels: the recipient accepts or declines inside the product. `message` is the requester's short note (at
    most 300 characters), for the recipient only."""

    request_id: int
    event_id: int
    requester_id: int
    recipient_id: int
    message: str


@dataclass(frozen=True)
class ContactAccepted(DomainEvent):
    """The recipient accepted a contact request: both now see each other in "My contacts"."""

    request_id: int
    event_id: int
    requester_id: int
    recipient_id: int


@dataclass(frozen=True)
class CoffeePaired(DomainEvent):
    """A coffee round's pairing run (or a rematch after someone declined or opted in late) put people together.
    `groups` are only the ones this run made: [{"group_id", "user_ids": [2 ids, or 3 for the trio], "starts_at",
    "ends_at"}], times ISO-8601 in UTC; `event_id` is the insight day (its timezone is the one to show)."""

    round_id: int
    event_id: int
    groups: list[dict[str, Any]]
    rematch: bool = False


@dataclass(frozen=True)
class AssignmentsPublished(DomainEvent):
    """An organiser published a breakout assignment run: one event per person, with their breakouts in slot order.
    `breakouts`: [{"breakout_id", "slot_id", "title", "theme", "starts_at", "ends_at" (ISO-8601 UTC),
    "meeting_url", "reason"}]; `timezone` is the day's IANA zone to show the times in. A later publication of the
    same day replaces an earlier one (compare `published_at`)."""

    event_id: int
    run_id: int
    user_id: int
    timezone: str
    breakouts: list[dict[str, Any]]
    published_at: str


@dataclass(frozen=True)
class EventEnded(DomainEvent):
    """An insight day reached its end time (sent once by matching's beat, at `ends_at`). Notify starts each
    attendee's digest from it and schedules the follow-up survey."""

    event_id: int
    title: str
    timezone: str
    ended_at: str
    # Filled by matching (events sent before these existed carry none): who took part in the day (registered,
    # booked a chat, authors of its projects), and which of them allow being contacted (their profile shows at
    # least one field to everyone at their events), so notify lists only those among the "people you met".
    attendee_ids: list[int] = field(default_factory=list)
    contactable_user_ids: list[int] = field(default_factory=list)


# --- gateway: chat rooms ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class ChatHeld(DomainEvent):
    """Both participants of a booked 1-1 chat room wrote at least one message: the chat really took place.
    Sent once per room. Matching's outcome report counts it; notify lists the pair in each other's digest."""

    room_id: str
    event_id: int | None
    slot_id: int | None
    project_id: int | None
    author_id: int
    attendee_id: int
    held_at: str


@dataclass(frozen=True)
class FollowUpActionNoted(DomainEvent):
    """Someone noted a follow-up action in a chat room ("send the code", "meet again in March").
    `owner_id` is who will do it, `other_user_id` the other participant (None in an ask-me-anything room),
    `due_on` an optional ISO date. Notify reminds the owner until the action is marked done."""

    action_id: int
    room_id: str
    event_id: int | None
    owner_id: int
    other_user_id: int | None
    text: str
    due_on: str | None
    noted_at: str


@dataclass(frozen=True)
class FollowUpActionDone(DomainEvent):
    """The owner marked a follow-up action done (or withdrew it): no more reminders."""

    action_id: int
    owner_id: int
    done_at: str


# --- posters --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ProjectPublished(DomainEvent):
    """A project was created.

    `revision`: the project row's revision, +1 on every change (1 here); consumers apply only newer revisions.
    """

    project_id: int
    event_id: int
    owner_id: int
    title: str
    themes: list[str]
    revision: int | None = None
    # The project's text, for matching's spin-off suggestions (events sent before these existed carry none).
    summary: str = ""
    learnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ProjectUpdated(DomainEvent):
    """The project's title, text, themes or visibility changed (hidden projects are off the gallery).

    `revision`: the project row's revision, +1 on every change; consumers apply only newer revisions.
    """

    project_id: int
    event_id: int
    owner_id: int
    title: str
    themes: list[str]
    hidden: bool = False
    revision: int | None = None
    summary: str = ""
    learnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ProjectDeleted(DomainEvent):
    """The project is gone.

    `revision`: the project row's revision, +1 on every change (the one after its last update); consumers apply
    only newer revisions and keep a tombstone at this revision so a late older snapshot cannot bring it back.
    """

    project_id: int
    event_id: int
    owner_id: int
    revision: int | None = None


@dataclass(frozen=True)
class PosterReady(DomainEvent):
    poster_id: int
    project_id: int
    event_id: int
    owner_id: int
    page_count: int


@dataclass(frozen=True)
class PosterRejected(DomainEvent):
    poster_id: int
    project_id: int
    event_id: int
    owner_id: int
    reason: str


@dataclass(frozen=True)
class ProjectViewed(DomainEvent):
    """A signed-in person opened a project page for the first time (sent once per person and project).
    Notify lists it in the person's digest; matching's outcome report counts posters viewed per person."""

    project_id: int
    event_id: int
    user_id: int
    viewed_at: str


@dataclass(frozen=True)
class QuestionAsked(DomainEvent):
    """An attendee asked a question in a project's Q&A. `anonymous` hides the asker from other attendees only
    (never from organisers); the author is told about it through notify."""

    question_id: int
    project_id: int
    event_id: int
    owner_id: int
    asker_id: int
    anonymous: bool
    project_title: str
    text: str
    asked_at: str


@dataclass(frozen=True)
class QuestionAnswered(DomainEvent):
    """The project's author answered a question; notify tells the asker."""

    question_id: int
    project_id: int
    event_id: int
    owner_id: int
    asker_id: int
    project_title: str
    answered_at: str


# --- notify -----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SurveyAnswered(DomainEvent):
    """An attendee answered the post-event follow-up survey (the latest answer per person and day counts).
    Matching's outcome report uses it for the "followed up" step of the funnel."""

    event_id: int
    user_id: int
    contacted_someone: bool
    adopted_something: bool
    blockers: str
    answered_at: str


# --- gateway: e-mail verification -------------------------------------------------------------------------------
@dataclass(frozen=True)
class VerificationRequested(DomainEvent):
    """Someone registered with `email` (purpose "confirm_address": `link` is the signed confirmation link), or tried
    to register an address that already has an account (purpose "address_taken": its owner is told; `link` is the
    sign-in page). Carries no text the registrant wrote: nothing they typed is mailed before the address is
    confirmed. Notify turns it into an "account" mail (always sent, cannot be unsubscribed)."""

    user_id: int
    email: str
    purpose: str  # "confirm_address" | "address_taken"
    link: str
    expires_at: str = ""  # ISO UTC, for "confirm_address"


# --- matching: coffee changes -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class CoffeeGroupChanged(DomainEvent):
    """People left a coffee group of a round before it started: `user_ids` are no longer in group `group_id`
    (the one who declined or opted out, and, when the group is `dissolved` because fewer than two were left, the
    partner freed by it, who waits for a rematch); `remaining_user_ids` still meet there (a trio gone down to a
    pair). `reason`: "declined" (waits for someone else) | "left_round" (declined without rematch, or opted out).
    `by_user_id` is who caused it. Times are the round's, ISO-8601 UTC. Recorded in the same transaction as the
    change; a rematch that follows is a separate CoffeePaired with new groups."""

    round_id: int
    event_id: int
    group_id: int
    user_ids: list[int]
    dissolved: bool
    by_user_id: int
    reason: str
    starts_at: str
    ends_at: str
    remaining_user_ids: list[int] = field(default_factory=list)
