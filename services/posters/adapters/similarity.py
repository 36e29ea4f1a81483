"""'Similar projects' from text similarity: TF-IDF vectors (scikit-learn) and cosine similarity.

The model of an event is fitted once and cached per process, keyed by the event's `search_version`, which
every change to a searchable project bumps; so a busy gallery does not refit on each request.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics.pairwise import linear_kernel

CACHE_SIZE = 16


@dataclass
class SimilarityModel:
    ids: list[int]
    vectorizer: TfidfVectorizer | None
    matrix: object | None  # sparse (n_projects x n_terms), rows L2-normalised

    @classmethod
    def fit(cls, ids: list[int], texts: list[str]) -> SimilarityModel:
        if not ids:
            return cls([], None, None)
        vectorizer = TfidfVectorizer(
            stop_words="english",
            sublinear_tf=True,
            min_df=1,
            max_df=0.8 if len(ids) > 10 else 1.0,
            max_features=100_000,
        )
        try:
            matrix = vectorizer.fit_transform(texts)
        except ValueError:  # every document empty or only stop words
            return cls(ids, None, None)
        return cls(ids, vectorizer, matrix)

    def neighbours(self, project_id: int, text: str, k: int) -> list[tuple[int, float]]:
        """The k most similar other projects to this text (cosine of TF-IDF vectors), best first."""
        if self.vectorizer is None or self.matrix is None:
            return []
        scores = linear_kernel(self.vectorizer.transform([text]), self.matrix).ravel()
        order = (-scores).argsort(kind="stable")
        found: list[tuple[int, float]] = []
        for i in order:
            if scores[i] <= 0 or len(found) == k:
                break
            if self.ids[i] != project_id:
                found.append((self.ids[i], float(scores[i])))
        return found


class SimilarityCache:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._models: dict[tuple[str, int], tuple[int, SimilarityModel]] = {}

    def get(self, key: tuple[str, int], version: int) -> SimilarityModel | None:
        with self._lock:
            hit = self._models.get(key)
        return hit[1] if hit and hit[0] == version else None

    def put(self, key: tuple[str, int], version: int, model: SimilarityModel) -> None:
        with self._lock:
            if len(self._models) >= CACHE_SIZE and key not in self._models:
                self._models.pop(next(iter(self._models)))
            self._models[key] = (version, model)


cache = SimilarityCache()
