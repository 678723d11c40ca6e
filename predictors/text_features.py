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

import math
import re
from collections.abc import Sequence
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


class HashedTfidf:
    """TF-IDF without a vocabulary: hashed n-gram counts (float32), columns kept when at least
    ``min_df`` training texts have them, then sublinear TF-IDF and L2 rows."""

    def __init__(
        self,
        analyzer: str = "word",
        ngram_range: tuple[int, int] = (1, 2),
        n_features: int = 2**20,
        min_df: int = 2,
        stop_words: str | None = None,
    ) -> None:
        self.analyzer = analyzer
        self.ngram_range = ngram_range
        self.n_features = n_features
        self.min_df = min_df
        self.stop_words = stop_words

    def _hasher(self) -> Any:
        from sklearn.feature_extraction.text import HashingVectorizer

        # https://scikit-learn.org/stable/modules/generated/sklearn.feature_extraction.text.HashingVectorizer.html
        # alternate_sign=False and norm=None give plain counts, for TfidfTransformer to weight.
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

    def counts(self, texts: Sequence[str]) -> Any:
        """The hashed n-gram counts of ``texts`` (all columns; what :meth:`fit_counts` and
        :meth:`transform_counts` weight), hashed ``CHUNK`` texts at a time."""
        import scipy.sparse as sp

        hasher = self._hasher()
        parts = [hasher.transform(texts[i : i + CHUNK]) for i in range(0, len(texts), CHUNK)]
        return parts[0] if len(parts) == 1 else sp.vstack(parts, format="csr")

    def fit_counts(self, counts: Any) -> Any:
        """Learn the kept columns and IDF weights from ``counts``; their TF-IDF."""
        from sklearn.feature_extraction.text import TfidfTransformer

        df = np.bincount(counts.indices, minlength=counts.shape[1])
        columns = np.flatnonzero(df >= self.min_df)
        if not len(columns):
            raise PricebenchError(
                f"the training texts share no {self.analyzer} n-grams (each is in fewer than "
                f"{self.min_df} texts); lower predictor.min_df"
            )
        self.columns_ = columns
        self.tfidf_ = TfidfTransformer(sublinear_tf=True)
        return self.tfidf_.fit_transform(counts[:, columns]).astype(np.float32, copy=False)

    def transform_counts(self, counts: Any) -> Any:
        return self.tfidf_.transform(counts[:, self.columns_]).astype(np.float32, copy=False)

    def fit_transform(self, texts: Sequence[str]) -> Any:
        return self.fit_counts(self.counts(texts))

    def transform(self, texts: Sequence[str]) -> Any:
        return self.transform_counts(self.counts(texts))


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


def numeric_matrix(texts: Sequence[str]) -> np.ndarray:
    """:func:`numeric_features` of each text, one row each (float32): log1p of each value, -1
    where the text states none (not NaN: a column with no value at all would stop
    HistGradientBoosting's binning)."""
    rows = np.empty((len(texts), len(NUMERIC_FEATURES)), dtype=np.float32)
    for row, text in enumerate(texts):
        values = numeric_features(text)
        rows[row] = [values[name] for name in NUMERIC_FEATURES]
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
