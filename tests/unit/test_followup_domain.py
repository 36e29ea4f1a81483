"""Pure rules and texts of the follow-up digest, survey and action reminders."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.notify.followup import domain
from services.notify.followup.domain import Action, Digest, Person, Project

NOTED = datetime(2026, 6, 3, 17, tzinfo=UTC)


def _digest(**changes: object) -> Digest:
    base: dict[str, object] = {
        "event_id": 5,
        "day_title": "Health <data> day",
        "ended_on": "Wednesday 03 June 2026",
        "people": (Person(2, "Ada <b>Lovelace</b>", "coffee"),),
        "projects": (Project(7, "Linkage\r\nBcc: evil@example.org", ("Learn & share", "Two", "Three")),),
        "actions": (Action(70, "Send <the> template", True, "Grace", "2026-06-20"),),
    }
    return Digest(**{**base, **changes})  # type: ignore[arg-type]


def test_a_met_person_is_listed_only_with_consent_or_as_a_contact() -> None:
    assert domain.may_list(2, contactable={2, 3}, contacts=set())
    assert domain.may_list(4, contactable={2, 3}, contacts={4})
    assert not domain.may_list(5, contactable={2, 3}, contacts={4})


def test_encounters_keep_the_first_place_met() -> None:
    met = domain.Encounters()
    met.add(2, "breakout “Privacy”")
    met.add(2, "coffee")
    assert met.where == {2: "breakout “Privacy”"}


def test_long_lists_of_people_are_cut_and_counted() -> None:
    people = [Person(i, f"Person {i:02}", "breakout") for i in range(domain.MAX_PEOPLE_LISTED + 5)]
    listed, more = domain.people_listed(list(reversed(people)))
    assert len(listed) == domain.MAX_PEOPLE_LISTED and more == 5 and listed[0].name == "Person 00"


def test_the_html_digest_escapes_everything_users_wrote() -> None:
    html = domain.digest_html(_digest(), "http://x.test/followup/events/5?a=1&b=2")
    assert "<b>Lovelace" not in html and "Ada &lt;b&gt;Lovelace&lt;/b&gt;" in html
    assert "Health &lt;data&gt; day" in html and "Send &lt;the&gt; template" in html
    assert "Learn &amp; share" in html and 'href="http://x.test/followup/events/5?a=1&amp;b=2"' in html
    assert max(len(line) for line in html.splitlines()) < 998  # SMTP's line limit


def test_the_text_digest_keeps_user_text_on_one_line() -> None:
    text = domain.digest_text(_digest(), "http://x.test/f")
    assert "  - Linkage Bcc: evil@example.org" in text  # the CR LF folded into a space: no header, no new line
    assert "\r" not in text
    assert "  - Ada <b>Lovelace</b> (coffee)" in text
    assert "  - Send <the> template (you, by 2026-06-20)" in text
    assert domain.digest_title("Day\r\nBcc: x@y") == "Your follow-up from Day Bcc: x@y"


def test_an_empty_digest_is_empty_and_the_summary_counts() -> None:
    assert Digest(1, "Day", "Monday").empty
    assert not _digest().empty
    summary = domain.digest_summary(_digest(more_people=2))
    assert summary == "3 people you met, 1 project you looked at, 1 follow-up action."


def test_an_open_action_is_reminded_weekly_a_bounded_number_of_times() -> None:
    assert not domain.action_reminder_due(NOTED, None, 0, NOTED + timedelta(days=6, hours=23))
    assert domain.action_reminder_due(NOTED, None, 0, NOTED + timedelta(days=7))
    last = NOTED + timedelta(days=7)
    assert not domain.action_reminder_due(NOTED, last, 1, last + timedelta(days=6))
    assert domain.action_reminder_due(NOTED, last, 1, last + timedelta(days=7))
    assert not domain.action_reminder_due(NOTED, last, domain.MAX_ACTION_REMINDERS, last + timedelta(days=30))


def test_survey_date_and_local_date() -> None:
    assert domain.survey_due(NOTED, 7) == NOTED + timedelta(days=7)
    # 23:30 UTC is already the next day in Paris.
    assert domain.local_date(datetime(2026, 6, 3, 23, 30, tzinfo=UTC), "Europe/Paris") == "Thursday 04 June 2026"


def test_due_dates_are_read_leniently() -> None:
    assert domain.parse_due_on("2026-06-20") == "2026-06-20"
    assert domain.parse_due_on("2026-06-20T10:00:00") == "2026-06-20"
    assert domain.parse_due_on("next week") is None and domain.parse_due_on(None) is None
