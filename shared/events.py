"""Message schemas: past-tense dataclasses inside one envelope, JSON on the wire.

An `Envelope` carries (event_id, type, occurred_at, version, payload). Payload classes are registered by
their type name so a consumer can turn the wire JSON back into the typed dataclass.
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


class UnknownEventType(ValueError):
    pass


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
    """An insight day was created. Times are ISO-8601 in UTC; `timezone` is the IANA zone shown to users."""

    event_id: int
    title: str
    starts_at: str
    ends_at: str
    timezone: str
    organiser_id: int


@dataclass(frozen=True)
class EventUpdated(DomainEvent):
    event_id: int
    title: str
    starts_at: str
    ends_at: str
    timezone: str
    organiser_id: int


@dataclass(frozen=True)
class ThesaurusUpdated(DomainEvent):
    """The full list of theme names of an insight day after a change (posters checks project themes with it)."""

    event_id: int
    themes: list[str]


# --- posters --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ProjectPublished(DomainEvent):
    project_id: int
    event_id: int
    owner_id: int
    title: str
    themes: list[str]


@dataclass(frozen=True)
class ProjectUpdated(DomainEvent):
    """The project's title, themes or visibility changed (hidden projects are off the gallery)."""

    project_id: int
    event_id: int
    owner_id: int
    title: str
    themes: list[str]
    hidden: bool = False


@dataclass(frozen=True)
class ProjectDeleted(DomainEvent):
    project_id: int
    event_id: int
    owner_id: int


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
