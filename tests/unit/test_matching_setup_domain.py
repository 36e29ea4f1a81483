"""Pure rules of a day's set-up and registrations: thesaurus folding, slot checks, the CSV reader and writer."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.matching.registration import domain as reg
from services.matching.setup.domain import Refused, SlotTimes, Thesaurus, check_slot

THESAURUS = Thesaurus.of([{"name": "Machine learning", "synonyms": ["ML", "A.I."]}, "data linkage"])


def _at(hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 12, 1, hour, minute, tzinfo=UTC)


def test_names_and_synonyms_fold_to_the_theme_whatever_the_case_and_spacing() -> None:
    assert [THESAURUS.fold(x) for x in ("ml", " machine   LEARNING ", "a.i.", "Data Linkage")] == [
        "Machine learning",
        "Machine learning",
        "Machine learning",
        "data linkage",
    ]
    assert THESAURUS.fold("astrology") is None and Thesaurus().fold("ml") is None


def test_a_synonym_equal_to_its_own_theme_or_repeated_is_dropped() -> None:
    thesaurus = Thesaurus.of([{"name": "privacy", "synonyms": ["Privacy", "PETs", "PETs"]}])
    assert thesaurus.as_json() == [{"name": "privacy", "synonyms": ["PETs"]}]


def test_slots_may_touch_but_not_overlap() -> None:
    day = (_at(9), _at(17))
    others = [SlotTimes(1, _at(10), _at(11), "breakout")]
    check_slot(SlotTimes(None, _at(11), _at(12), "coffee"), *day, others)
    check_slot(SlotTimes(1, _at(10, 30), _at(11, 30), "breakout"), *day, others)  # itself does not count
    with pytest.raises(Refused) as refused:
        check_slot(SlotTimes(None, _at(10, 59), _at(12), "coffee"), *day, others)
    assert (refused.value.status, refused.value.code) == (409, "slot_overlap")


def test_semicolon_separated_files_and_multi_line_cells_keep_file_row_numbers() -> None:
    data = b'email;themes;interests\r\nada@example.org;ML, data linkage;"two\nlines"\r\n\r\nbad;astrology;\r\n'
    records, errors = reg.read_csv(data)
    assert errors == [] and [r.row for r in records] == [2, 4]
    result = reg.check_records(records, errors, THESAURUS, {"ada@example.org": 5})
    assert [(r.row, r.choices.themes, r.choices.interests) for r in result.rows] == [
        (2, ["Machine learning", "data linkage"], ["two lines"]),
    ]
    assert [(e.row, e.column) for e in result.errors] == [(4, "email"), (4, "themes")]


def test_exported_cells_cannot_become_formulas_and_read_back_unchanged() -> None:
    text = reg.write_csv([{"email": "-x@example.org", "display_name": "=SUM(A1)", "themes": ["data linkage"]}])
    assert "'=SUM(A1)" in text and "'-x@example.org" in text
    records, errors = reg.read_csv(text.encode())
    assert errors == [] and records[0].cells["email"] == "-x@example.org"
