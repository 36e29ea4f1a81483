"""Pure rules of profiles and the people directory: fields, visibility, redaction, search. No Flask, no database."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from services.matching.setup.domain import Refused, clean_label, label_key

EVERYONE, ORGANISERS, NOBODY = "everyone", "organisers", "nobody"
VISIBILITIES = (EVERYONE, ORGANISERS, NOBODY)

# field -> (label shown on pages, is a list, most entries, most characters per entry)
FIELDS: dict[str, tuple[str, bool, int, int]] = {
    "role": ("Role", False, 1, 100),
    "organisation": ("Organisation", False, 1, 200),
    "region": ("Region", False, 1, 120),
    "tools": ("Tools", True, 20, 100),
    "interests": ("Interests", True, 20, 200),
    "projects": ("Projects", True, 10, 200),
    "bio": ("Short bio", False, 1, 600),
}
# A new profile: organisation and region (given at registration) for everyone at my events, the rest for nobody
# until the person chooses.
DEFAULT_VISIBILITY: dict[str, str] = {name: NOBODY for name in FIELDS} | {
    "organisation": EVERYONE,
    "region": EVERYONE,
}
FILTERS = ("interest", "tool", "organisation", "region")
FILTER_FIELD = {"interest": "interests", "tool": "tools", "organisation": "organisation", "region": "region"}
MAX_QUERY = 200
PER_PAGE = 20
FACET_LIMIT = 50

Value = str | tuple[str, ...]


@dataclass(frozen=True)
class Profile:
    """A person's profile values and who may see each field."""

    values: Mapping[str, Value]
    visibility: Mapping[str, str]


def empty_value(name: str) -> Value:
    return () if FIELDS[name][1] else ""


def clean_value(name: str, raw: object) -> Value:
    """The value as stored, or Refused naming the field (lists: distinct entries, case- and space-blind)."""
    _, is_list, most, longest = FIELDS[name]
    if is_list:
        if not isinstance(raw, list | tuple):
            raise Refused(name, "must be a list of entries")
        seen: dict[str, str] = {}
        for index, item in enumerate(raw):
            if not isinstance(item, str):
                raise Refused(f"{name}.{index}", "each entry must be text")
            text = clean_label(item)
            if len(text) > longest:
                raise Refused(f"{name}.{index}", f"each entry has at most {longest} characters")
            if text:
                seen.setdefault(label_key(text), text)
        if len(seen) > most:
            raise Refused(name, f"at most {most} entries")
        return tuple(seen.values())
    if not isinstance(raw, str):
        raise Refused(name, "must be text")
    text = raw.strip() if name == "bio" else clean_label(raw)
    if len(text) > longest:
        raise Refused(name, f"at most {longest} characters")
    return text


def shown_to(visibility: str, viewer_is_organiser: bool) -> bool:
    return visibility == EVERYONE or (visibility == ORGANISERS and viewer_is_organiser)


def redact(profile: Profile, viewer_is_organiser: bool) -> dict[str, Value]:
    """Only the fields this viewer may see (and that have a value). Everything downstream uses this card only."""
    card: dict[str, Value] = {}
    for name in FIELDS:
        value = profile.values.get(name) or empty_value(name)
        if value and shown_to(profile.visibility.get(name, NOBODY), viewer_is_organiser):
            card[name] = value
    return card


@dataclass(frozen=True)
class Filters:
    q: str = ""
    interest: str = ""
    tool: str = ""
    organisation: str = ""
    region: str = ""

    def active(self) -> bool:
        return any((self.q, self.interest, self.tool, self.organisation, self.region))


def check_filters(raw: Mapping[str, str]) -> Filters:
    values = {}
    for name in ("q", *FILTERS):
        text = " ".join((raw.get(name) or "").split())
        if len(text) > MAX_QUERY:
            raise Refused(name, f"at most {MAX_QUERY} characters")
        values[name] = text
    return Filters(**values)


def _entries(value: Value) -> tuple[str, ...]:
    return value if isinstance(value, tuple) else ((value,) if value else ())


@dataclass(frozen=True)
class Card:
    user_id: int
    display_name: str
    fields: dict[str, Value] = field(default_factory=dict)  # already redacted for the viewer


def matches(card: Card, filters: Filters) -> bool:
    """Whether a redacted card matches: a filter looks only at what the viewer may see, so a hidden field can never
    be the reason a person is found (or left out for)."""
    for name in FILTERS:
        wanted = getattr(filters, name)
        if wanted and label_key(wanted) not in {
            label_key(v) for v in _entries(card.fields.get(FILTER_FIELD[name], ""))
        }:
            return False
    if filters.q:
        text = label_key(" ".join([card.display_name, *(e for v in card.fields.values() for e in _entries(v))]))
        return all(word in text for word in label_key(filters.q).split())
    return True


def facets(cards: Sequence[Card]) -> dict[str, list[dict[str, object]]]:
    """Each filter's values among the visible cards, most frequent first (what the filter drop-downs offer)."""
    found: dict[str, list[dict[str, object]]] = {}
    for name in FILTERS:
        counts: Counter[str] = Counter()
        shown: dict[str, str] = {}
        for card in cards:
            for entry in {label_key(e): e for e in _entries(card.fields.get(FILTER_FIELD[name], ""))}.items():
                counts[entry[0]] += 1
                shown.setdefault(*entry)
        ranked = sorted(counts, key=lambda k: (-counts[k], k))[:FACET_LIMIT]
        found[name] = [{"value": shown[k], "count": counts[k]} for k in ranked]
    return found
