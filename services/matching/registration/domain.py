"""Rules of a registration (1 to 5 ranked themes from the day's thesaurus, tools, interests) and of the CSV files
organisers import and export. Pure: no Flask, no database."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from services.matching.setup.domain import Refused, Thesaurus, clean_label, label_key

MAX_THEMES = 5
MAX_TOOLS = 20
MAX_INTERESTS = 20
MAX_TOOL = 100
MAX_INTEREST = 200
MAX_IMPORT_ROWS = 5000
MAX_IMPORT_BYTES = 2 * 1024 * 1024

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_SPLIT = re.compile(r"[;,]")  # list cells: "machine learning; data linkage" (a comma works too)

CSV_COLUMNS = ("email", "themes", "tools", "interests")
EXPORT_ONLY_COLUMNS = ("display_name", "organisation", "region", "updated_at")  # ignored when imported


@dataclass(frozen=True)
class Choices:
    themes: list[str]
    tools: list[str]
    interests: list[str]


def ranked_themes(raw: list[str], thesaurus: Thesaurus) -> list[str]:
    """1 to 5 themes, best first, each folded to the day's theme it names ("ML" -> "machine learning")."""
    if not raw:
        raise Refused("themes", "choose at least one theme")
    if len(raw) > MAX_THEMES:
        raise Refused("themes", f"choose at most {MAX_THEMES} themes")
    if not thesaurus.themes:
        raise Refused("themes", "this insight day has no themes yet: the organisers have not set up its thesaurus")
    chosen: list[str] = []
    unknown: list[str] = []
    for i, item in enumerate(raw):
        label = clean_label(item)
        if not label:
            raise Refused(f"themes.{i}", "a theme must not be empty")
        theme = thesaurus.fold(label)
        if theme is None:
            unknown.append(label)
        elif theme in chosen:
            raise Refused("themes", f"{label!r} is {theme!r} again: rank each theme once")
        else:
            chosen.append(theme)
    if unknown:
        raise Refused("themes", f"not among this day's themes: {', '.join(unknown)}")
    return chosen


def labels(name: str, raw: Iterable[str], maximum: int, max_length: int) -> list[str]:
    """Distinct non-empty labels in the order given; repeats differing only in case or spacing are merged."""
    seen: dict[str, str] = {}
    for item in raw:
        text = clean_label(item)
        if not text:
            continue
        if len(text) > max_length:
            raise Refused(name, f"each entry has at most {max_length} characters")
        seen.setdefault(label_key(text), text)
    if len(seen) > maximum:
        raise Refused(name, f"at most {maximum} entries")
    return list(seen.values())


def choices(themes: list[str], tools: list[str], interests: list[str], thesaurus: Thesaurus) -> Choices:
    return Choices(
        ranked_themes(themes, thesaurus),
        labels("tools", tools, MAX_TOOLS, MAX_TOOL),
        labels("interests", interests, MAX_INTERESTS, MAX_INTEREST),
    )


# --- CSV -----------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RowError:
    row: int  # as in the file: the header is row 1
    column: str | None
    message: str

    def as_json(self) -> dict[str, object]:
        return {"row": self.row, "column": self.column, "message": self.message}


@dataclass(frozen=True)
class ImportRow:
    row: int
    email: str
    user_id: int
    choices: Choices


@dataclass
class ImportResult:
    rows: list[ImportRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)


@dataclass(frozen=True)
class CsvRecord:
    row: int
    cells: dict[str, str]


def split_cell(cell: str) -> list[str]:
    return [part for part in (p.strip() for p in _SPLIT.split(cell)) if part]


def read_csv(data: bytes) -> tuple[list[CsvRecord], list[RowError]]:
    """The file's records (blank lines skipped, still counted) or what is wrong with the file as a whole."""
    if len(data) > MAX_IMPORT_BYTES:
        return [], [RowError(1, None, f"the file is larger than {MAX_IMPORT_BYTES // (1024 * 1024)} MB")]
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return [], [RowError(1, None, "the file is not UTF-8 text: save it as “CSV UTF-8” and try again")]
    first_line = text.split("\n", 1)[0]
    # The header names the columns without quoting, so its most frequent separator is the file's (spreadsheets
    # in some locales save with ";" or tabs; list cells then use the other separator).
    delimiter = max((",", ";", "\t"), key=first_line.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        table = list(reader)
    except csv.Error as exc:
        return [], [RowError(reader.line_num or 1, None, f"the file is not valid CSV: {exc}")]
    if not table or not any(cell.strip() for cell in table[0]):
        return [], [RowError(1, None, "the file is empty: the first row must name the columns (email, themes, ...)")]
    header = [cell.strip().lower() for cell in table[0]]
    errors = [
        RowError(1, name or f"column {i + 1}", "unknown column (use email, themes, tools, interests)")
        for i, name in enumerate(header)
        if name not in CSV_COLUMNS + EXPORT_ONLY_COLUMNS
    ]
    errors += [RowError(1, name, "missing column") for name in ("email", "themes") if name not in header]
    errors += [RowError(1, name, "the column is given twice") for name in set(header) if header.count(name) > 1]
    if errors:
        return [], errors
    records: list[CsvRecord] = []
    for number, cells in enumerate(table[1:], start=2):
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) > len(header):
            errors.append(RowError(number, None, f"{len(cells)} cells but the header names {len(header)} columns"))
            continue
        values = {name: _undefuse(cells[i]) if i < len(cells) else "" for i, name in enumerate(header)}
        records.append(CsvRecord(number, values))
    if len(records) > MAX_IMPORT_ROWS:
        errors.append(RowError(1, None, f"at most {MAX_IMPORT_ROWS} registrations per file"))
    return records, errors


def emails_of(records: Iterable[CsvRecord]) -> set[str]:
    return {r.cells["email"].strip().lower() for r in records if r.cells.get("email", "").strip()}


def check_records(
    records: list[CsvRecord], errors: list[RowError], thesaurus: Thesaurus, user_ids: Mapping[str, int]
) -> ImportResult:
    """Every row checked, every problem kept (row and column); rows are only worth importing if there are none."""
    result = ImportResult(errors=list(errors))
    first_row: dict[str, int] = {}
    for record in records:
        problems: list[RowError] = []
        email = record.cells.get("email", "").strip().lower()
        user_id = None
        if not email:
            problems.append(RowError(record.row, "email", "missing e-mail address"))
        elif not _EMAIL.match(email):
            problems.append(RowError(record.row, "email", f"{email!r} is not an e-mail address"))
        elif email in first_row:
            problems.append(RowError(record.row, "email", f"{email} is already on row {first_row[email]}"))
        elif (user_id := user_ids.get(email)) is None:
            problems.append(
                RowError(record.row, "email", f"no account with the e-mail {email}: they must sign up first")
            )
        if email:
            first_row.setdefault(email, record.row)
        picked: dict[str, list[str]] = {}
        limits = {"tools": (MAX_TOOLS, MAX_TOOL), "interests": (MAX_INTERESTS, MAX_INTEREST)}
        try:
            picked["themes"] = ranked_themes(split_cell(record.cells.get("themes", "")), thesaurus)
        except Refused as exc:
            problems.append(RowError(record.row, "themes", exc.message))
        for name, (maximum, max_length) in limits.items():
            try:
                picked[name] = labels(name, split_cell(record.cells.get(name, "")), maximum, max_length)
            except Refused as exc:
                problems.append(RowError(record.row, name, exc.message))
        if problems or user_id is None:
            result.errors.extend(problems)
            continue
        result.rows.append(
            ImportRow(record.row, email, user_id, Choices(picked["themes"], picked["tools"], picked["interests"]))
        )
    result.errors.sort(key=lambda e: (e.row, e.column or ""))
    return result


def write_csv(rows: Iterable[Mapping[str, object]]) -> str:
    """Registrations as CSV (lists joined with "; "): the import reads the same file back."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    columns = ("email", "display_name", "organisation", "region", "themes", "tools", "interests", "updated_at")
    writer.writerow(columns)
    for row in rows:
        cells = []
        for name in columns:
            value = row.get(name, "")
            text = "; ".join(str(v) for v in value) if isinstance(value, list) else str(value or "")
            cells.append(_defuse(text))
        writer.writerow(cells)
    return out.getvalue()


_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _defuse(text: str) -> str:
    """Spreadsheets run cells starting with = + - @ as formulas: prefix them with ' so they stay text."""
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def _undefuse(text: str) -> str:
    """The import takes back what the export prefixed."""
    return text[1:] if text.startswith("'") and text[1:].startswith(_FORMULA_STARTS) else text
