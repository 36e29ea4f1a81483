"""Spin-off suggestions, pure: similar projects are grouped, unrelated ones are not, the same projects always give
the same suggestions, a project alone is never suggested, and each group is named by its most shared theme or, when
there is none, by its common terms."""

from __future__ import annotations

import random

from services.matching.setup.domain import Thesaurus
from services.matching.spinoffs.domain import (
    ExistingBreakout,
    ProjectText,
    Tuning,
    is_key,
    suggest,
    suggestion_key,
)

THESAURUS = Thesaurus.of(
    [
        {"name": "machine learning", "synonyms": ["ML", "AI"]},
        "acute care",
        "data linkage",
        "mental health",
        "environment",
        "operations",
    ]
)


def _project(pid: int, title: str, summary: str, learnings: tuple[str, ...], themes: tuple[str, ...]) -> ProjectText:
    return ProjectText(pid, title, summary, learnings, themes)


SEPSIS = [
    _project(
        1,
        "Early warning scores for sepsis in emergency departments",
        "We built an early warning score that flags sepsis risk from vital signs recorded at triage in three "
        "emergency departments.",
        ("Vital signs at triage are noisy", "Clinicians trust simple scores", "Validate on each site"),
        ("ML", "acute care"),
    ),
    _project(
        2,
        "Predicting sepsis deterioration on hospital wards",
        "A model using routine vital signs and lab results to predict sepsis deterioration hours before clinical "
        "recognition.",
        ("Lab results arrive late", "Alert fatigue is real", "Nurses must own the alert"),
        ("machine learning", "Acute  care"),
    ),
    _project(
        3,
        "Sepsis alerts in paediatric emergency care",
        "Adapting an early warning score for sepsis in children attending emergency departments, using vital signs.",
        ("Children's vital signs differ", "Parents notice first", "Small numbers need pooling"),
        ("acute care",),
    ),
]
LINKAGE = [
    _project(
        4,
        "Linking GP and hospital records for diabetes care",
        "We linked primary care and hospital records to follow people with type 2 diabetes across services.",
        ("Consent governance takes months", "Pseudonymisation at source", "Matching on NHS number"),
        ("data linkage",),
    ),
    _project(
        5,
        "Record linkage of diabetes registries",
        "Linking diabetes registry records with hospital admissions to measure complications.",
        ("Linkage quality varies by region", "Governance first", "Use trusted research environments"),
        ("data linkage",),
    ),
]
LONERS = [
    _project(
        6,
        "Mental health app engagement among teenagers",
        "A study of how teenagers use a mental health app and what keeps them engaged.",
        ("Co-design with young people", "Notifications backfire", "Schools are key partners"),
        ("mental health",),
    ),
    _project(
        7,
        "Air pollution and asthma admissions",
        "Time-series analysis of air quality data and asthma admissions in city hospitals.",
        ("Weather confounds everything", "Open data is patchy", "Share code"),
        ("environment",),
    ),
    _project(
        8,
        "Waiting lists dashboard for elective surgery",
        "A dashboard that shows waiting lists for elective surgery by specialty and region.",
        ("Definitions differ by trust", "Users want exports", "Update weekly"),
        ("operations",),
    ),
]
ALL = SEPSIS + LINKAGE + LONERS


def _groups(suggestions) -> list[tuple[int, ...]]:  # type: ignore[no-untyped-def]
    return sorted(s.project_ids for s in suggestions)


def test_similar_projects_are_grouped_and_unrelated_ones_kept_apart() -> None:
    suggestions = suggest(ALL, THESAURUS)
    assert _groups(suggestions) == [(1, 2, 3), (4, 5)]
    grouped = {pid for s in suggestions for pid in s.project_ids}
    assert grouped.isdisjoint({6, 7, 8})  # each alone: never a suggestion of one
    for s in suggestions:
        assert 0 < s.similarity <= 1 and len(s.projects) >= 2
        assert is_key(s.key) and s.key == suggestion_key(s.project_ids)
    assert suggestions == sorted(suggestions, key=lambda s: -s.similarity)


def test_the_same_projects_give_the_same_suggestions_in_any_order() -> None:
    first = suggest(ALL, THESAURUS)
    shuffled = list(ALL)
    random.Random(7).shuffle(shuffled)
    again = suggest(shuffled, THESAURUS)
    assert again == first
    assert [s.key for s in again] == [s.key for s in first]
    assert suggestion_key([3, 1, 2]) == suggestion_key([1, 2, 3]) != suggestion_key([1, 2])


def test_no_suggestion_for_fewer_than_two_or_only_unrelated_projects() -> None:
    assert suggest([], THESAURUS) == []
    assert suggest(SEPSIS[:1], THESAURUS) == []
    assert suggest(LONERS, THESAURUS) == []
    empty = [ProjectText(10, "", "", (), ()), ProjectText(11, "", "", (), ())]
    assert suggest(empty) == []  # nothing to compare: no error, no suggestion


def test_a_group_is_named_by_its_most_shared_theme_folded_through_the_thesaurus() -> None:
    by_projects = {s.project_ids: s for s in suggest(ALL, THESAURUS)}
    sepsis = by_projects[(1, 2, 3)]
    # "acute care" is on all three (once written "Acute  care"), machine learning ("ML" is its synonym) on two.
    assert (sepsis.theme, sepsis.theme_source) == ("acute care", "shared_theme")
    assert sepsis.shared_themes == ("acute care", "machine learning")
    assert sepsis.theme_in_thesaurus and not sepsis.breakout_exists
    assert sepsis.title == "Spin-off workshop: acute care"
    assert "sepsis" in sepsis.terms and "vital signs" in sepsis.terms
    linkage = by_projects[(4, 5)]
    assert linkage.theme == "data linkage" and "diabetes" in linkage.terms  # as written, not "diabete"


def test_without_a_shared_theme_the_top_terms_name_the_group() -> None:
    untagged = [ProjectText(p.id, p.title, p.summary, p.learnings, ()) for p in ALL]
    suggestions = suggest(untagged)
    assert suggestions, "text alone still groups the closest projects"
    for s in suggestions:
        assert s.theme_source == "terms" and s.shared_themes == ()
        assert not s.theme_in_thesaurus
        assert s.theme and "," not in s.theme and ";" not in s.theme and len(s.theme) <= 100
    named = {s.project_ids: s.theme for s in suggestions}
    assert named[(1, 3)] == "vital signs & early warning"


def test_theme_in_the_thesaurus_and_existing_breakouts_are_reported() -> None:
    untagged = [ProjectText(p.id, p.title, p.summary, p.learnings, ()) for p in ALL]
    (named_by_terms,) = [s for s in suggest(untagged) if s.project_ids == (1, 3)]
    assert not named_by_terms.theme_in_thesaurus and not named_by_terms.breakout_exists
    # The organiser already has that theme, under another name.
    thesaurus = Thesaurus.of([{"name": "Warning scores", "synonyms": [named_by_terms.theme]}, "data linkage"])
    breakouts = [
        ExistingBreakout(9, "Scores at triage", "warning  SCORES"),
        ExistingBreakout(3, "Other", "data linkage"),
    ]
    (suggestion,) = [s for s in suggest(untagged, thesaurus, breakouts) if s.project_ids == (1, 3)]
    assert suggestion.key == named_by_terms.key
    assert suggestion.theme == "Warning scores" and suggestion.title == "Spin-off workshop: Warning scores"
    assert suggestion.theme_in_thesaurus and suggestion.breakout_exists
    assert [b.id for b in suggestion.breakouts] == [9]


def test_themes_weigh_more_than_their_share_of_the_words() -> None:
    """Same text for all four; two pairs by theme: the themes split the group in two."""
    text = "Dashboards of routine hospital activity for managers"
    projects = [ProjectText(i, text, "", (), (theme,)) for i, theme in enumerate(["a", "a", "b", "b"], start=1)]
    assert _groups(suggest(projects, tuning=Tuning(theme_weight=0.35, min_similarity=0.7))) == [(1, 2), (3, 4)]
    assert _groups(suggest(projects, tuning=Tuning(theme_weight=0.35, min_similarity=0.6))) == [(1, 2, 3, 4)]


def test_hidden_projects_are_the_callers_business_but_duplicates_count_once() -> None:
    twice = [SEPSIS[0], SEPSIS[0], SEPSIS[2]]
    (suggestion,) = suggest(twice, THESAURUS)
    assert suggestion.project_ids == (1, 3)
