"""Suggested spin-off workshops: a day's published projects grouped by similar aims, each group proposed as a
themed breakout. Pure: no Flask, no database.

How projects are compared: the text (title, summary, top learnings) as TF-IDF vectors (English stop words out,
plurals folded) by cosine, and the themes (folded through the day's thesaurus, so "ML" and "machine learning" are
one) by how much of the smaller set two projects share, rarer themes weighing more; the similarity of two projects
is a weighted mean of the two, themes weighted well above their share of the words (projects without themes are
compared by text alone). Groups come from average-linkage agglomerative
clustering on 1 - similarity, cut where the average similarity of two groups drops below `min_similarity`; only
groups of two or more are suggested. Everything is ordered by project id first, so the same projects always give
the same suggestions (and the same keys).
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
from sklearn.cluster import AgglomerativeClustering
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfVectorizer
from sklearn.preprocessing import normalize

from services.matching.setup.domain import MAX_LABEL, Thesaurus, clean_label, label_key

KEY_LENGTH = 16  # hex characters of the suggestion key
KEY_PATTERN = re.compile(rf"^[0-9a-f]{{{KEY_LENGTH}}}$")
TERMS_SHOWN = 5
TITLE_PREFIX = "Spin-off workshop: "
PHRASE_BOOST = 1.3


@dataclass(frozen=True)
class Tuning:
    """How alike projects must be. Themes count `theme_weight` of the similarity, the text the rest. With the
    defaults two projects on the same themes need some telling vocabulary in common too (text cosine >= ~0.08:
    sharing a theme alone is what a plain themed breakout is for), two on different themes need most of their text
    in common (>= ~0.62), and projects without themes are grouped by text alone (>= 0.4)."""

    theme_weight: float = 0.35
    min_similarity: float = 0.4


DEFAULT_TUNING = Tuning()


@dataclass(frozen=True)
class ProjectText:
    """What a suggestion needs of a project: its id, title, text and themes (as the project names them)."""

    id: int
    title: str
    summary: str = ""
    learnings: tuple[str, ...] = ()
    themes: tuple[str, ...] = ()


@dataclass(frozen=True)
class ExistingBreakout:
    id: int
    title: str
    theme: str


@dataclass(frozen=True)
class Suggestion:
    """A proposed spin-off workshop.

    `theme`: the most shared project theme of the group (as the thesaurus names it when it knows it), or, when the
    projects share none, their top common terms; `theme_source` says which ("shared_theme" / "terms").
    `similarity`: the mean similarity of the group's project pairs, 0..1. `key`: stable for the same projects."""

    key: str
    theme: str
    theme_source: str
    title: str
    projects: tuple[ProjectText, ...]
    similarity: float
    shared_themes: tuple[str, ...]
    terms: tuple[str, ...]
    theme_in_thesaurus: bool
    breakouts: tuple[ExistingBreakout, ...] = field(default=())

    @property
    def breakout_exists(self) -> bool:
        return bool(self.breakouts)

    @property
    def project_ids(self) -> tuple[int, ...]:
        return tuple(p.id for p in self.projects)


def suggestion_key(project_ids: Iterable[int]) -> str:
    """The same set of projects always has the same key (hash of the sorted ids)."""
    joined = ",".join(str(i) for i in sorted(set(project_ids)))
    return hashlib.sha256(f"spinoff:{joined}".encode()).hexdigest()[:KEY_LENGTH]


def is_key(key: str) -> bool:
    return bool(KEY_PATTERN.match(key))


# --- text -------------------------------------------------------------------------------------------------------
_WORD = re.compile(r"[^\W\d_][\w'-]*[^\W_]|[^\W\d_]{2,}", re.UNICODE)
_KEEP_S = ("ss", "us", "is", "ics", "sis", "ous")


def _singular(word: str) -> str:
    """A light plural fold, enough for short project texts ("records" ~ "record", "studies" ~ "study")."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(_KEEP_S):
        return word[:-1]
    return word


def _words(text: str) -> list[str]:
    words = []
    for raw in _WORD.findall(text.casefold()):
        word = raw.strip("'-")
        if len(word) < 2 or word in ENGLISH_STOP_WORDS:
            continue
        words.append(_singular(word))
    return words


def _analyse(text: str) -> list[str]:
    """Words and two-word phrases of a text (stop words out before pairing, so phrases skip "of the"): the
    phrases name a group ("early warning"); similarity is on words alone (phrases would thin short texts out)."""
    words = _words(text)
    return words + [f"{a} {b}" for a, b in zip(words, words[1:], strict=False)]


def _document(project: ProjectText) -> str:
    return "\n".join([project.title, project.summary, *project.learnings])


# --- themes -----------------------------------------------------------------------------------------------------
def _themes(project: ProjectText, thesaurus: Thesaurus) -> list[str]:
    """The project's themes as the thesaurus names them (unknown ones as written), each once, in order."""
    seen: dict[str, str] = {}
    for theme in project.themes:
        name = thesaurus.fold(theme) or clean_label(theme)
        if name and label_key(name) not in seen:
            seen[label_key(name)] = name
    return list(seen.values())


def _cosines(documents: Sequence[Sequence[str]] | Sequence[str], analyzer: object) -> tuple[np.ndarray, object]:
    """Pairwise cosine similarity of TF-IDF vectors (zero rows for empty documents) and the fitted matrix."""
    vectorizer = TfidfVectorizer(analyzer=analyzer, sublinear_tf=True, norm=None)  # type: ignore[arg-type]
    try:
        matrix = vectorizer.fit_transform(documents)
    except ValueError:  # no terms at all
        n = len(documents)
        return np.zeros((n, n)), None
    unit = normalize(matrix)
    return np.asarray((unit @ unit.T).todense()), (vectorizer, matrix)


def _theme_overlap(themes: list[list[str]]) -> np.ndarray:
    """How much of the smaller theme set two projects share, each theme weighted by its rarity (IDF): 1 when one
    project's themes are all among the other's (a project with an extra theme still fully shares the first one),
    less when rare themes differ. Projects without themes share nothing (the caller compares those by text)."""
    n = len(themes)
    vocabulary = sorted({t for ts in themes for t in ts})
    if not vocabulary:
        return np.zeros((n, n))
    column = {t: i for i, t in enumerate(vocabulary)}
    has = np.zeros((n, len(vocabulary)))
    for row, ts in enumerate(themes):
        for t in ts:
            has[row, column[t]] = 1.0
    idf = np.log((1 + n) / (1 + has.sum(axis=0))) + 1.0
    weighted = has * idf
    shared = weighted @ has.T
    totals = weighted.sum(axis=1)
    smaller = np.minimum.outer(totals, totals)
    return np.divide(shared, smaller, out=np.zeros((n, n)), where=smaller > 0)


# --- suggestions ------------------------------------------------------------------------------------------------
def suggest(
    projects: Iterable[ProjectText],
    thesaurus: Thesaurus = Thesaurus(),
    breakouts: Iterable[ExistingBreakout] = (),
    tuning: Tuning = DEFAULT_TUNING,
) -> list[Suggestion]:
    """Spin-off workshops for these projects (already filtered to the day's published, visible ones), most alike
    first."""
    ordered = sorted({p.id: p for p in projects}.values(), key=lambda p: p.id)
    if len(ordered) < 2:
        return []
    themes = [_themes(p, thesaurus) for p in ordered]
    documents = [_document(p) for p in ordered]
    text_sim, _ = _cosines(documents, _words)
    theme_sim = _theme_overlap([[label_key(t) for t in ts] for ts in themes])
    # A project without themes says nothing about them: such pairs are compared by their text alone.
    tagged = np.array([bool(ts) for ts in themes])
    both = np.outer(tagged, tagged)
    similarity = np.where(both, (1 - tuning.theme_weight) * text_sim + tuning.theme_weight * theme_sim, text_sim)
    _, phrases = _cosines(documents, _analyse)
    np.fill_diagonal(similarity, 1.0)
    distance = np.clip(1.0 - similarity, 0.0, 1.0)
    labels = AgglomerativeClustering(
        n_clusters=None,
        metric="precomputed",
        linkage="average",
        distance_threshold=1.0 - tuning.min_similarity,
    ).fit_predict(distance)

    groups: dict[int, list[int]] = {}
    for index, label in enumerate(labels):
        groups.setdefault(int(label), []).append(index)
    by_theme: dict[str, list[ExistingBreakout]] = {}
    for breakout in sorted(breakouts, key=lambda b: b.id):
        by_theme.setdefault(label_key(breakout.theme), []).append(breakout)

    suggestions = []
    for members in groups.values():
        if len(members) < 2:
            continue
        pairs = [similarity[a, b] for i, a in enumerate(members) for b in members[i + 1 :]]
        terms = _top_terms(_subset(phrases, members), [documents[i] for i in members])
        shared = _shared_themes([themes[i] for i in members], thesaurus)
        if shared:
            theme, source = shared[0], "shared_theme"
        else:
            theme, source = _theme_from_terms(terms), "terms"
        if not theme:
            continue  # nothing in common to name it by (cannot happen above the threshold, but never an empty theme)
        known = thesaurus.fold(theme)
        theme = known or theme
        group = tuple(ordered[i] for i in members)
        suggestions.append(
            Suggestion(
                key=suggestion_key(p.id for p in group),
                theme=theme,
                theme_source=source,
                title=proposed_title(theme),
                projects=group,
                similarity=round(float(np.mean(pairs)), 2),
                shared_themes=tuple(shared),
                terms=tuple(terms[:TERMS_SHOWN]),
                theme_in_thesaurus=known is not None,
                breakouts=tuple(by_theme.get(label_key(theme), ())),
            )
        )
    suggestions.sort(key=lambda s: (-s.similarity, -len(s.projects), s.projects[0].id))
    return suggestions


def _shared_themes(themes: list[list[str]], thesaurus: Thesaurus) -> list[str]:
    """Themes at least two of the group's projects have, most shared first (then in the thesaurus' order, then by
    name)."""
    counts: Counter[str] = Counter()
    names: dict[str, str] = {}
    for project_themes in themes:
        for theme in project_themes:
            counts[label_key(theme)] += 1
            names.setdefault(label_key(theme), theme)
    order = {label_key(name): i for i, name in enumerate(thesaurus.names())}
    shared = [key for key, count in counts.items() if count >= 2]
    shared.sort(key=lambda key: (-counts[key], order.get(key, len(order)), key))
    return [names[key] for key in shared]


def _top_terms(fit: object, documents: list[str]) -> list[str]:
    """The group's terms, the ones most of its projects use first, then by weight (mean TF-IDF over the group; a
    phrase counts a little more than a word, being more telling), in the words the projects wrote."""
    if fit is None:
        return []
    vectorizer, matrix = fit  # type: ignore[misc]
    weight = np.asarray(matrix.mean(axis=0)).ravel()
    spread = np.asarray((matrix > 0).sum(axis=0)).ravel()
    vocabulary = vectorizer.get_feature_names_out()
    candidates = [i for i in np.flatnonzero(weight) if spread[i] >= 2] or list(np.flatnonzero(weight))

    def rank(i: int) -> tuple[int, float, str]:
        boost = PHRASE_BOOST if " " in vocabulary[i] else 1.0
        return (-int(spread[i]), -round(float(weight[i]) * boost, 9), str(vocabulary[i]))

    candidates.sort(key=rank)
    written = _surface(documents)
    terms: list[str] = []
    covered: set[str] = set()
    for i in candidates:
        words = str(vocabulary[i]).split()
        if set(words) <= covered:
            continue  # "signs" after "vital signs" says nothing new
        covered.update(words)
        terms.append(" ".join(written.get(w, w) for w in words))
    return terms


def _surface(documents: list[str]) -> dict[str, str]:
    """Each folded word as the projects most often wrote it ("diabete" -> "diabetes", "sign" -> "signs")."""
    seen: dict[str, Counter[str]] = {}
    for document in documents:
        for raw in _WORD.findall(document.casefold()):
            word = raw.strip("'-")
            seen.setdefault(_singular(word), Counter())[word] += 1
    return {folded: min(c, key=lambda w: (-c[w], w)) for folded, c in seen.items()}


def _subset(fit: object, members: list[int]) -> object:
    """The fitted vectoriser with the group's rows only (each row scaled to length 1)."""
    if fit is None:
        return None
    vectorizer, matrix = fit  # type: ignore[misc]
    return vectorizer, normalize(matrix[members])


def _theme_from_terms(terms: list[str]) -> str:
    """A theme name from the top terms: the best phrase or word, and a second one that adds a new word."""
    chosen: list[str] = []
    for term in terms:
        words = set(term.split())
        if any(words & set(c.split()) for c in chosen):
            continue
        chosen.append(term)
        if len(chosen) == 2:
            break
    return clean_label(" & ".join(chosen))[:MAX_LABEL].strip()


def proposed_title(theme: str) -> str:
    return f"{TITLE_PREFIX}{theme}"[:200]
