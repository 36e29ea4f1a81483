"""Pure rules and texts of the follow-up: who counts as met, when the survey and action reminders are due, and
the digest's plain-text and HTML bodies. No Flask, no database. Everything from users is escaped in HTML and kept
to one line where it could reach a header."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from html import escape
from zoneinfo import ZoneInfo

from services.notify.domain.messages import one_line

DIGEST_KIND = "followup_digest"
SURVEY_KIND = "followup_survey"
ACTION_REMINDER_KIND = "followup_action_reminder"
QUESTION_ASKED_KIND = "question_asked"
QUESTION_ANSWERED_KIND = "question_answered"
CONTACT_ACCEPTED_KIND = "contact_accepted"
CATEGORY = "followup"
NEWS = "news"

ACTION_REMINDER_EVERY = timedelta(days=7)
MAX_ACTION_REMINDERS = 8  # two months of weekly nudges, then the action is left alone
MAX_PEOPLE_LISTED = 30
MAX_BLOCKERS = 1000


@dataclass(frozen=True)
class Person:
    user_id: int
    name: str
    where: str  # "breakout “Privacy”", "1-1 chat", "coffee"


@dataclass(frozen=True)
class Project:
    project_id: int
    title: str
    learnings: tuple[str, ...]


@dataclass(frozen=True)
class Action:
    action_id: int
    text: str
    mine: bool  # I am the one to do it
    with_name: str
    due_on: str | None


@dataclass(frozen=True)
class Digest:
    event_id: int
    day_title: str
    ended_on: str  # the day's date in its own time zone
    people: tuple[Person, ...] = ()
    more_people: int = 0
    projects: tuple[Project, ...] = ()
    actions: tuple[Action, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.people or self.projects or self.actions)


@dataclass
class Encounters:
    """Who a person met and where, before consent is applied (first place met wins)."""

    where: dict[int, str] = field(default_factory=dict)

    def add(self, other: int, where: str) -> None:
        self.where.setdefault(other, where)


def may_list(other: int, contactable: set[int], contacts: set[int]) -> bool:
    """A person met is listed when they allow contact at large, or accepted this person as a contact."""
    return other in contactable or other in contacts


def local_date(instant: datetime, zone: str) -> str:
    return instant.astimezone(ZoneInfo(zone)).strftime("%A %d %B %Y")


def survey_due(ended_at: datetime, days: int) -> datetime:
    return ended_at + timedelta(days=days)


def action_reminder_due(
    noted_at: datetime, last_reminded_at: datetime | None, reminders_sent: int, now: datetime
) -> bool:
    if reminders_sent >= MAX_ACTION_REMINDERS:
        return False
    since = last_reminded_at or noted_at
    return now - since >= ACTION_REMINDER_EVERY


def people_listed(people: Sequence[Person]) -> tuple[tuple[Person, ...], int]:
    ordered = sorted(people, key=lambda p: (p.name.casefold(), p.user_id))
    return tuple(ordered[:MAX_PEOPLE_LISTED]), max(0, len(ordered) - MAX_PEOPLE_LISTED)


# --- texts ---------------------------------------------------------------------------------------------------
def digest_title(day_title: str) -> str:
    return f"Your follow-up from {one_line(day_title, 120)}"


def digest_summary(digest: Digest) -> str:
    people = len(digest.people) + digest.more_people
    return (
        f"{_count(people, 'person', 'people')} you met, {_count(len(digest.projects), 'project', 'projects')} "
        f"you looked at, {_count(len(digest.actions), 'follow-up action', 'follow-up actions')}."
    )


def _count(n: int, one: str, many: str) -> str:
    return f"1 {one}" if n == 1 else f"{n} {many}"


def digest_text(digest: Digest, url: str) -> str:
    lines = [f"Thank you for taking part in {one_line(digest.day_title, 200)} on {digest.ended_on}.", ""]
    lines.append("People you met who are happy to be contacted:")
    lines += [f"  - {one_line(p.name, 100)} ({p.where})" for p in digest.people] or ["  (none this time)"]
    if digest.more_people:
        lines.append(f"  ... and {digest.more_people} more on the follow-up page.")
    lines += ["", "Projects you looked at, with their authors' top learnings:"]
    for project in digest.projects:
        lines.append(f"  - {one_line(project.title, 200)}")
        lines += [f"      * {one_line(learning, 300)}" for learning in project.learnings]
    if not digest.projects:
        lines.append("  (none this time)")
    lines += ["", "Follow-up actions from your chats:"]
    for action in digest.actions:
        who = "you" if action.mine else one_line(action.with_name, 100)
        due = f", by {action.due_on}" if action.due_on else ""
        lines.append(f"  - {one_line(action.text, 300)} ({who}{due})")
    if not digest.actions:
        lines.append("  (none noted)")
    lines += ["", f"All of it, with links: {url}", "", "The Insight Days team"]
    return "\n".join(lines)


def digest_html(digest: Digest, url: str) -> str:
    def items(values: Iterable[str], empty: str) -> str:
        # One element a line: SMTP refuses lines over 998 characters.
        rendered = "\n".join(f"<li>{v}</li>" for v in values)
        return f"<ul>\n{rendered}\n</ul>" if rendered else f"<p>{escape(empty)}</p>"

    people = items(
        (f"{escape(one_line(p.name, 100))} <small>({escape(p.where)})</small>" for p in digest.people),
        "None this time.",
    )
    more = f"<p>… and {digest.more_people} more on the follow-up page.</p>" if digest.more_people else ""
    projects = items(
        (
            f"<strong>{escape(one_line(p.title, 200))}</strong>"
            + (items((escape(one_line(x, 300)) for x in p.learnings), "") if p.learnings else "")
            for p in digest.projects
        ),
        "None this time.",
    )
    actions = items(
        (
            f"{escape(one_line(a.text, 300))} <small>({'you' if a.mine else escape(one_line(a.with_name, 100))}"
            f"{', by ' + escape(a.due_on) if a.due_on else ''})</small>"
            for a in digest.actions
        ),
        "None noted.",
    )
    return (
        f"<p>Thank you for taking part in <strong>{escape(one_line(digest.day_title, 200))}</strong> on "
        f"{escape(digest.ended_on)}.</p>\n"
        f"<h2>People you met who are happy to be contacted</h2>\n{people}\n{more}\n"
        f"<h2>Projects you looked at, with their authors' top learnings</h2>\n{projects}\n"
        f"<h2>Follow-up actions from your chats</h2>\n{actions}\n"
        f'<p><a href="{escape(url, quote=True)}">Open your follow-up page</a></p>\n'
    )


def survey_text(day_title: str, url: str) -> str:
    return "\n".join(
        [
            f"A little while ago you took part in {one_line(day_title, 200)}.",
            "",
            "Three short questions, one minute: did you contact anyone you met? Did you adopt or reuse anything?",
            "What stopped you? Your answers help the organisers make the next day more useful.",
            "",
            f"Answer here: {url}",
            "",
            "The Insight Days team",
        ]
    )


def survey_html(day_title: str, url: str) -> str:
    return (
        f"<p>A little while ago you took part in <strong>{escape(day_title)}</strong>.</p>"
        "<p>Three short questions, one minute: did you contact anyone you met? Did you adopt or reuse anything? "
        "What stopped you?</p>"
        f'<p><a href="{escape(url, quote=True)}">Answer the follow-up survey</a></p>'
    )


def action_reminder_text(text: str, due_on: str | None, with_name: str, url: str) -> str:
    due = f" (you meant to do it by {due_on})" if due_on else ""
    who = f" with {one_line(with_name, 100)}" if with_name else ""
    return "\n".join(
        [
            f"In your chat{who} you noted a follow-up action{due}:",
            "",
            f"  {one_line(text, 500)}",
            "",
            f"Done already? Mark it done so we stop reminding you: {url}",
        ]
    )


def parse_due_on(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value[:10]).isoformat()
    except ValueError:
        return None
