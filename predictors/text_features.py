"""What the offline learners (``ridge``, ``knn``, ``gbm``) read from an item, shared by all three.

Text becomes TF-IDF through :class:`HashedTfidf`: a ``HashingVectorizer`` (no vocabulary is held,
so 400,000 long descriptions fit in memory), transformed in chunks, float32, with columns seen in
fewer than ``min_df`` training texts dropped, then ``TfidfTransformer`` weights. Words are read
from ``item.body``; character n-grams (which catch model numbers and units, "18V", "1/2in") from
the item's title by default, which keeps their count small (``char_text: body`` reads them from the
whole description: a little better alone, at several times the fit time and memory). Numbers a
description states (weight, dimensions, wattage, voltage, pack counts, capacity, ...) come from
:func:`numeric_features`, and the category from :class:`CategoryCodes`.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from harness.data import Item
from harness.errors import PricebenchError

__all__ = [
    "NUMERIC_FEATURES",
    "CategoryCodes",
    "HashedTfidf",
    "bodies",
    "log_prices",
    "numeric_features",
    "numeric_matrix",
    "require_items",
    "titles",
    "to_prices",
]

# How many texts are hashed at a time: bounds the transient memory of a transform.
CHUNK = 20_000
# Calls with at most MEMO_TEXTS texts keep each text's hashed row (per settings) for the next
# call, up to MEMO_ROWS rows in all: fitting an ensemble's members fold by fold hashes the pool's
# texts once instead of dozens of times. Larger calls (a 400,000-item pool) hash without keeping.
MEMO_TEXTS = 20_000
MEMO_ROWS = 200_000
_MEMO: dict[tuple[Any, ...], dict[str, tuple[np.ndarray, np.ndarray]]] = {}

# What the questions and the answer prefix of the course's prompts add to every text: removed
# so that they are no feature (every item has them).
_BOILERPLATE = re.compile(
    r"(How much does this cost to the nearest dollar\?|What does this cost to the nearest "
    r"dollar\?|Price is \$)"
)


def require_items(name: str, train_items: Sequence[Item]) -> None:
    """The one error for a learner given no training items."""
    if not train_items:
        raise PricebenchError(
            f"{name} needs training items to fit; check data.train_path (or data.path), "
            "or choose a predictor that needs no training"
        )


def bodies(items: Sequence[Item]) -> list[str]:
    """What the learners read: ``item.body`` without the prompt's question and answer prefix."""
    return [_BOILERPLATE.sub(" ", item.body) for item in items]


def titles(items: Sequence[Item]) -> list[str]:
    return [item.title or "" for item in items]


def log_prices(items: Sequence[Item]) -> np.ndarray:
    """The learners' target: ``log1p(price)``."""
    return np.log1p(np.array([max(item.price, 0.0) for item in items], dtype=np.float64))


def to_prices(logs: np.ndarray) -> np.ndarray:
    """Back from ``log1p`` to dollars, never below 0."""
    return np.clip(np.expm1(np.asarray(logs, dtype=np.float64)), 0.0, None)


def _popping(chunks: list[Any]) -> Iterator[Any]:
    """The list's items from its end, each dropped from the list as it is given."""
    while chunks:
        yield chunks.pop()


class HashedTfidf:
    """TF-IDF without a vocabulary: hashed n-gram counts (float32), columns kept when at least
    ``min_df`` training texts have them, then sublinear TF-IDF and L2 rows, times ``weight``.

    Built in two passes so that 400,000 texts never hold two copies of their matrix: the counts
    are hashed ``CHUNK`` texts at a time and their document frequencies added up; then each
    chunk is weighted and written into one preallocated matrix, its counts freed as it goes.
    The weights are scikit-learn's ``TfidfTransformer(sublinear_tf=True, smooth_idf=True)``
    (https://scikit-learn.org/stable/modules/feature_extraction.html#tfidf-term-weighting:
    tf = 1 + ln(count), idf = ln((1 + n) / (1 + df)) + 1, rows scaled to unit L2 norm), computed
    per chunk here because that class learns its IDF from one whole matrix."""

    def __init__(
        self,
        analyzer: str = "word",
        ngram_range: tuple[int, int] = (1, 2),
        n_features: int = 2**20,
        min_df: int = 2,
        stop_words: str | None = None,
        weight: float = 1.0,
    ) -> None:
        self.analyzer = analyzer
        self.ngram_range = ngram_range
        self.n_features = n_features
        self.min_df = min_df
        self.stop_words = stop_words
        self.weight = weight

    def _hasher(self) -> Any:
        from sklearn.feature_extraction.text import HashingVectorizer

        # https://scikit-learn.org/stable/modules/generated/sklearn.feature_extraction.text.HashingVectorizer.html
        # alternate_sign=False and norm=None give plain counts (each column once per row).
        return HashingVectorizer(
            analyzer=self.analyzer,  # type: ignore[arg-type]
            ngram_range=tuple(self.ngram_range),
            n_features=self.n_features,
            stop_words=self.stop_words,
            alternate_sign=False,
            norm=None,
            lowercase=True,
            dtype=np.float32,
        )

    def _chunks(self, texts: Sequence[str]) -> Iterator[Any]:
        """The hashed counts of ``texts``, ``CHUNK`` texts a chunk (CSR), one chunk at a time."""
        hasher = None if len(texts) <= MEMO_TEXTS else self._hasher()
        for start in range(0, len(texts), CHUNK):
            part = texts[start : start + CHUNK]
            yield self._memo_hash(part) if hasher is None else hasher.transform(part)

    def _memo_hash(self, texts: Sequence[str]) -> Any:
        """The hashed counts of a few texts, each text's row hashed once per process and
        settings (an ensemble fits its members on the same texts many times over)."""
        import scipy.sparse as sp

        key = (self.analyzer, tuple(self.ngram_range), self.n_features, self.stop_words)
        rows = _MEMO.setdefault(key, {})
        missing = list(dict.fromkeys(text for text in texts if text not in rows))
        if missing:
            if sum(len(memo) for memo in _MEMO.values()) + len(missing) > MEMO_ROWS:
                _MEMO.clear()
                rows = _MEMO.setdefault(key, {})
            hashed = self._hasher().transform(missing)
            for i, text in enumerate(missing):
                begin, end = hashed.indptr[i], hashed.indptr[i + 1]
                rows[text] = (hashed.indices[begin:end].copy(), hashed.data[begin:end].copy())
        found = [rows[text] for text in texts]
        indptr = np.zeros(len(texts) + 1, dtype=np.int64)
        np.cumsum([len(indices) for indices, _ in found], out=indptr[1:])
        return sp.csr_matrix(
            (
                np.concatenate([data for _, data in found] or [np.zeros(0, np.float32)]),
                np.concatenate([indices for indices, _ in found] or [np.zeros(0, np.int32)]),
                indptr,
            ),
            shape=(len(texts), self.n_features),
        )

    def fit_transform(self, texts: Sequence[str]) -> Any:
        """Learn the kept columns and IDF weights from ``texts``; their weighted TF-IDF (CSR).

        The texts are hashed twice (a pool small enough to be remembered, once): first for the
        document frequencies, then to be weighted and written, so that no chunk outlives its
        pass (keeping them between the passes left 400,000 items' counts beside the matrix)."""
        df = np.zeros(self.n_features, dtype=np.int64)
        for chunk in self._chunks(texts):
            df += np.bincount(chunk.indices, minlength=self.n_features)
        columns = np.flatnonzero(df >= self.min_df)
        if not len(columns):
            raise PricebenchError(
                f"the training texts share no {self.analyzer} n-grams (each is in fewer than "
                f"{self.min_df} texts); lower predictor.min_df"
            )
        self.columns_ = columns
        # where each hashed column goes in the kept ones (-1: dropped)
        self.position_ = np.full(self.n_features, -1, dtype=np.int32)
        self.position_[columns] = np.arange(len(columns), dtype=np.int32)
        self.idf_ = (np.log((1 + len(texts)) / (1 + df[columns])) + 1).astype(np.float32)
        return self._assemble(self._chunks(texts), len(texts), int(df[columns].sum()))

    def transform(self, texts: Sequence[str]) -> Any:
        """The weighted TF-IDF of ``texts`` with the columns and weights :meth:`fit_transform`
        learned."""
        chunks = list(self._chunks(texts))
        nnz = sum(int(np.count_nonzero(self.position_[chunk.indices] >= 0)) for chunk in chunks)
        chunks.reverse()  # popped from the end: the first chunk first, each freed once written
        return self._assemble(_popping(chunks), len(texts), nnz)

    def _assemble(self, chunks: Iterator[Any], n_rows: int, nnz: int) -> Any:
        """One CSR matrix of the chunks' weighted rows (``nnz`` kept counts in all), written
        into arrays allocated once."""
        import scipy.sparse as sp

        index = np.int32 if nnz < 2**31 else np.int64
        data = np.empty(nnz, dtype=np.float32)
        indices = np.empty(nnz, dtype=index)
        indptr = np.zeros(n_rows + 1, dtype=index)
        row = at = 0
        for chunk in chunks:
            place = self.position_[chunk.indices]
            keep = place >= 0
            # row of each stored count, then the rows' kept counts
            rows = np.repeat(np.arange(chunk.shape[0]), np.diff(chunk.indptr))[keep]
            values = (1.0 + np.log(chunk.data[keep])) * self.idf_[place[keep]]
            norms = np.sqrt(np.bincount(rows, weights=values * values, minlength=chunk.shape[0]))
            values *= (np.float32(self.weight) / np.where(norms > 0, norms, 1.0))[rows]
            size = len(values)
            data[at : at + size] = values
            indices[at : at + size] = place[keep]
            counts = np.bincount(rows, minlength=chunk.shape[0])
            indptr[row + 1 : row + 1 + chunk.shape[0]] = at + np.cumsum(counts)
            row += chunk.shape[0]
            at += size
            del chunk, place, keep, rows, values
        return sp.csr_matrix(
            (data, indices, indptr), shape=(n_rows, len(self.columns_)), copy=False
        )


# ---------------------------------------------------------------------------------------------
# Numbers stated in a description

_NUM = r"(\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?|\.\d+)"
_POUNDS = {
    "pound": 1.0, "pounds": 1.0, "lb": 1.0, "lbs": 1.0,
    "ounce": 1 / 16, "ounces": 1 / 16, "oz": 1 / 16,
    "kilogram": 2.20462, "kilograms": 2.20462, "kg": 2.20462, "kgs": 2.20462,
    "gram": 1 / 453.592, "grams": 1 / 453.592, "g": 1 / 453.592,
}  # fmt: skip
_INCHES = {"inches": 1.0, "inch": 1.0, "in": 1.0, '"': 1.0, "cm": 1 / 2.54, "mm": 1 / 25.4,
           "centimeters": 1 / 2.54, "millimeters": 1 / 25.4, "feet": 12.0, "ft": 12.0}  # fmt: skip
_GB = {"mb": 1 / 1024, "gb": 1.0, "tb": 1024.0}

_WEIGHT = re.compile(
    r"weight\s*:?\s*" + _NUM + r"\s*(pounds?|lbs?|ounces?|oz|kilograms?|kgs?|grams?|g)\b", re.I
)
_ANY_WEIGHT = re.compile(_NUM + r"\s*(pounds?|lbs?|ounces?|kilograms?|kgs?)\b", re.I)
_DIMENSIONS = re.compile(
    _NUM + r"\s*(?:\"|in|cm|mm)?\s*[x×]\s*" + _NUM + r"\s*(?:\"|in|cm|mm)?\s*[x×]\s*" + _NUM
    + r"\s*(inches|inch|in|\"|cm|mm|centimeters|millimeters|feet|ft)?",
    re.I,
)  # fmt: skip
_WATTS = re.compile(_NUM + r"\s*-?\s*(?:watts?|w)\b", re.I)
_VOLTS = re.compile(_NUM + r"\s*-?\s*(?:volts?|v)\b", re.I)
_AMPS = re.compile(_NUM + r"\s*-?\s*(?:amps?|a|mah)\b", re.I)
_PACK = re.compile(
    r"(?:pack of|set of|case of|box of|lot of)\s*" + _NUM
    + r"|" + _NUM + r"\s*-?\s*(?:pack|pk|count|ct|pcs|pieces|piece|pairs?)\b",
    re.I,
)  # fmt: skip
_CAPACITY = re.compile(_NUM + r"\s*(mb|gb|tb)\b", re.I)
_NUMBER = re.compile(_NUM)

NUMERIC_FEATURES = (
    "weight_lb",
    "volume_in3",
    "longest_in",
    "watts",
    "volts",
    "amps",
    "pack",
    "capacity_gb",
    "length_chars",
    "n_numbers",
    "largest_number",
)


def _number(text: str) -> float:
    return float(text.replace(",", ""))


def _first(pattern: re.Pattern[str], text: str) -> re.Match[str] | None:
    return pattern.search(text)


def _largest(pattern: re.Pattern[str], text: str) -> float:
    values = [_number(next(g for g in m.groups() if g)) for m in pattern.finditer(text)]
    return max(values) if values else math.nan


def numeric_features(text: str) -> dict[str, float]:
    """The numbers a description states, in common units (NaN when it states none): the weight
    in pounds (a ``Weight`` field first, else any weight), the volume in cubic inches and longest
    side in inches of the first ``A x B x C unit``, the largest wattage, voltage and amperage, the
    pack count, the storage capacity in GB; the text's length, how many numbers it has and the
    largest of them."""
    features = dict.fromkeys(NUMERIC_FEATURES, math.nan)
    match = _first(_WEIGHT, text) or _first(_ANY_WEIGHT, text)
    if match:
        unit = match.group(2).lower()
        features["weight_lb"] = _number(match.group(1)) * _POUNDS.get(
            unit, _POUNDS.get(unit.rstrip("s"), 1.0)
        )
    match = _first(_DIMENSIONS, text)
    if match:
        scale = _INCHES.get((match.group(4) or "in").lower(), 1.0)
        sides = [_number(match.group(i)) * scale for i in (1, 2, 3)]
        features["volume_in3"] = sides[0] * sides[1] * sides[2]
        features["longest_in"] = max(sides)
    features["watts"] = _largest(_WATTS, text)
    features["volts"] = _largest(_VOLTS, text)
    features["amps"] = _largest(_AMPS, text)
    features["pack"] = _largest(_PACK, text)
    capacities = [_number(m.group(1)) * _GB[m.group(2).lower()] for m in _CAPACITY.finditer(text)]
    if capacities:
        features["capacity_gb"] = max(capacities)
    numbers = [_number(m.group(1)) for m in _NUMBER.finditer(text)]
    features["length_chars"] = float(len(text))
    features["n_numbers"] = float(len(numbers))
    features["largest_number"] = max(numbers) if numbers else math.nan
    return features


@functools.lru_cache(maxsize=50_000)
def _numeric_row(text: str) -> tuple[float, ...]:
    """:func:`numeric_features` of a text as a tuple, remembered (an ensemble's folds read the
    same descriptions many times; the regular expressions are most of a gbm fit's time)."""
    values = numeric_features(text)
    return tuple(values[name] for name in NUMERIC_FEATURES)


def numeric_matrix(texts: Sequence[str]) -> np.ndarray:
    """:func:`numeric_features` of each text, one row each (float32): log1p of each value, -1
    where the text states none (not NaN: a column with no value at all would stop
    HistGradientBoosting's binning)."""
    rows = np.empty((len(texts), len(NUMERIC_FEATURES)), dtype=np.float32)
    for row, text in enumerate(texts):
        rows[row] = _numeric_row(text)
    with np.errstate(invalid="ignore", over="ignore"):
        return np.nan_to_num(np.log1p(np.clip(rows, 0, 1e12)), nan=-1.0)


class CategoryCodes:
    """Each category seen in training as a small integer (by name, so the codes do not depend
    on the order of the items); unseen or missing ones are -1 (HistGradientBoosting: missing)."""

    def fit(self, items: Sequence[Item]) -> CategoryCodes:
        names = sorted({item.category for item in items if item.category})
        self.codes_ = {name: code for code, name in enumerate(names)}
        return self

    def transform(self, items: Sequence[Item]) -> np.ndarray:
        return np.array(
            [self.codes_.get(item.category or "", -1) for item in items], dtype=np.float32
        )
