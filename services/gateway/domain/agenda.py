"""The day's agenda as one timeline: the day's slots (breakouts, poster sessions, coffee, chats) and the person's
own items (their breakouts, booked chats, coffee pairings), plus what is on now and what comes next.

Pure: takes the matching API's JSON and a moment, returns values; the page renders them in the event's timezone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit

SLOT_TITLES = {
    "breakout": "Themed breakouts",
    "posters": "Poster session",
    "coffee": "Random coffee",
    "chat": "1-1 author chats",
}


@dataclass(frozen=True)
class AgendaItem:
    starts_at: datetime  # aware, UTC
    ends_at: datetime
    kind: str  # a slot kind, or my_breakout | my_chat | my_coffee | coffee_round
    title: str
    detail: str
    link: str | None
    mine: bool

    def is_on(self, now: datetime) -> bool:
        return self.starts_at <= now < self.ends_at


@dataclass(frozen=True)
class NowNext:
    state: str  # before | during | after
    now: tuple[AgendaItem, ...]
    next: AgendaItem | None


def parse_utc(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)


def _safe_link(url: object) -> str | None:
    """Only https meeting links are shown as links (never javascript: or data: from a stored field)."""
    if isinstance(url, str) and urlsplit(url).scheme == "https":
        return url
    return None


def _slot_items(
    event_id: int, slots: Iterable[Mapping[str, Any]], breakouts: Iterable[Mapping[str, Any]]
) -> list[AgendaItem]:
    titles_by_slot: dict[int, list[str]] = {}
    for b in breakouts:
        titles_by_slot.setdefault(int(b["slot_id"]), []).append(str(b["title"]))
    links = {
        "breakout": f"/events/{event_id}/my-schedule",
        "posters": f"/events/{event_id}",
        "coffee": f"/events/{event_id}/coffee",
        "chat": f"/events/{event_id}",
    }
    items = []
    for slot in slots:
        kind = str(slot["kind"])
        titles = sorted(titles_by_slot.get(int(slot["id"]), []))
        detail = {
            "breakout": f"{len(titles)} breakout{'s' if len(titles) != 1 else ''}: " + ", ".join(titles)
            if titles
            else "Breakouts to be announced",
            "posters": "Browse the posters and talk to their authors",
            "coffee": "Short coffees with someone new; opt in on the Coffee page",
            "chat": "Book a 1-1 chat with an author on a project page",
        }.get(kind, "")
        items.append(
            AgendaItem(
                starts_at=parse_utc(slot["starts_at"]),
                ends_at=parse_utc(slot["ends_at"]),
                kind=kind,
                title=SLOT_TITLES.get(kind, kind.capitalize()),
                detail=detail,
                link=links.get(kind),
                mine=False,
            )
        )
    return items


def _my_items(event_id: int, schedule: Mapping[str, Any]) -> list[AgendaItem]:
    items = []
    for b in schedule.get("breakouts", []):
        items.append(
            AgendaItem(
                starts_at=parse_utc(b["starts_at"]),
                ends_at=parse_utc(b["ends_at"]),
                kind="my_breakout",
                title=f"Your breakout: {b['title']}",
                detail=f"Theme: {b['theme']}" + (f". {b['reason']}" if b.get("reason") else ""),
                link=_safe_link(b.get("meeting_url")) or f"/events/{event_id}/my-schedule",
                mine=True,
            )
        )
    for c in schedule.get("chats", []):
        about = f" about {c['project_title']}" if c.get("project_title") else ""
        items.append(
            AgendaItem(
                starts_at=parse_utc(c["starts_at"]),
                ends_at=parse_utc(c["ends_at"]),
                kind="my_chat",
                title=f"Chat with {c.get('with') or 'your partner'}{about}",
                detail="You are the author" if c.get("as_author") else "Booked 1-1 chat",
                link=f"/chats/{quote(str(c['room_id']), safe='')}" if c.get("room_id") else "/my-chats",
                mine=True,
            )
        )
    for k in schedule.get("coffee", []):
        items.append(
            AgendaItem(
                starts_at=parse_utc(k["starts_at"]),
                ends_at=parse_utc(k["ends_at"]),
                kind="my_coffee",
                title=str(k.get("summary") or "Coffee"),
                detail=f"Your answer: {k['response']}" if k.get("response") else "Paired for coffee",
                link=f"/events/{event_id}/coffee",
                mine=True,
            )
        )
    return items


def _round_items(event_id: int, rounds: Iterable[Mapping[str, Any]], paired: set[datetime]) -> list[AgendaItem]:
    """Coffee rounds without a slot of their own (a slot already shows the others), unless the person's pairing
    in it is listed already."""
    items = []
    for r in rounds:
        starts = parse_utc(r["starts_at"])
        if r.get("slot_id") or starts in paired:
            continue
        opted = bool((r.get("me") or {}).get("opted_in"))
        items.append(
            AgendaItem(
                starts_at=starts,
                ends_at=parse_utc(r["ends_at"]),
                kind="coffee_round",
                title="Random coffee round",
                detail="You opted in" if opted else "Opt in on the Coffee page",
                link=f"/events/{event_id}/coffee",
                mine=opted,
            )
        )
    return items


def day_items(
    event_id: int,
    slots: Iterable[Mapping[str, Any]],
    breakouts: Iterable[Mapping[str, Any]],
    schedule: Mapping[str, Any],
    rounds: Iterable[Mapping[str, Any]],
) -> list[AgendaItem]:
    mine = _my_items(event_id, schedule)
    paired = {i.starts_at for i in mine if i.kind == "my_coffee"}
    items = _slot_items(event_id, slots, breakouts) + mine + _round_items(event_id, rounds, paired)
    # In time order; at the same time the person's own item first (it says where they should be).
    return sorted(items, key=lambda i: (i.starts_at, not i.mine, i.ends_at, i.title))


def now_and_next(items: list[AgendaItem], now: datetime, day_starts: datetime, day_ends: datetime) -> NowNext:
    on_now = tuple(i for i in items if i.is_on(now))
    coming = [i for i in items if i.starts_at > now]
    upcoming = min(coming, key=lambda i: (i.starts_at, not i.mine)) if coming else None
    if now < day_starts:
        state = "before"
    elif now >= day_ends:
        state = "after"
    else:
        state = "during"
    return NowNext(state=state, now=on_now, next=upcoming)
