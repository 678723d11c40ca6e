"""``ridge``: TF-IDF of the description's words and the title's character n-grams, then Ridge
regression on ``log1p(price)``; a guess is ``expm1`` of the prediction, never below 0.

Both TF-IDF blocks are hashed (:class:`predictors.text_features.HashedTfidf`), so no vocabulary is
held (at 400,000 items the fit still needs about 5 GB beyond the items: the matrices are copied
while they are built; ``benchmarks/bench_learners.py``). The solver is deterministic: the same
items give the same guesses in every process.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, Self

import numpy as np

from harness.config_check import Range, check_instance, check_value
from harness.data import Item
from harness.predictor import Prediction, PredictorBase, check_fitted
from predictors.text_features import (
    HashedTfidf,
    bodies,
    log_prices,
    require_items,
    titles,
    to_prices,
)


class TextFeatures:
    """The ridge's design matrix: word TF-IDF of the body beside char TF-IDF of the title."""

    def __init__(
        self,
        word_ngram_max: int,
        char_ngram_min: int,
        char_ngram_max: int,
        char_weight: float,
        n_features: int,
        min_df: int,
        char_text: str = "title",
    ) -> None:
        self.char_text = char_text
        self.words = HashedTfidf("word", (1, word_ngram_max), n_features, min_df)
        self.chars = (
            HashedTfidf("char_wb", (char_ngram_min, char_ngram_max), n_features, min_df)
            if char_weight > 0
            else None
        )
        self.char_weight = char_weight

    def counts(self, items: Sequence[Item]) -> tuple[Any, Any]:
        """The hashed counts both blocks weight (rows may be sliced before fitting on them)."""
        words = self.words.counts(bodies(items))
        if self.chars is None:
            return words, None
        texts = titles(items) if self.char_text == "title" else bodies(items)
        return words, self.chars.counts(texts)

    def fit_counts(self, counts: tuple[Any, Any]) -> Any:
        words, chars = counts
        return self._stack(
            self.words.fit_counts(words),
            None if self.chars is None else self.chars.fit_counts(chars),
        )

    def transform_counts(self, counts: tuple[Any, Any]) -> Any:
        words, chars = counts
        return self._stack(
            self.words.transform_counts(words),
            None if self.chars is None else self.chars.transform_counts(chars),
        )

    def fit_transform(self, items: Sequence[Item]) -> Any:
        return self.fit_counts(self.counts(items))

    def transform(self, items: Sequence[Item]) -> Any:
        return self.transform_counts(self.counts(items))

    def _stack(self, words: Any, chars: Any) -> Any:
        import scipy.sparse as sp

        if chars is None:
            return words
        chars = chars * np.float32(self.char_weight)
        return sp.hstack([words, chars], format="csr", dtype=np.float32)


def check_ngram_range(char_ngram_min: int, char_ngram_max: int) -> None:
    """``predictor.char_ngram_max must be an integer ≥ <char_ngram_min>, got ...``."""
    check_value("predictor.char_ngram_max", char_ngram_max, int, Range(char_ngram_min))


def ridge_model(alpha: float, seed: int) -> Any:
    from sklearn.linear_model import Ridge

    # https://scikit-learn.org/stable/modules/generated/sklearn.linear_model.Ridge.html
    # "sparse_cg" keeps X sparse and float32 (no dense copy, no Gram matrix) and is
    # deterministic; fit_intercept on sparse X is supported by it.
    return Ridge(alpha=alpha, solver="sparse_cg", tol=1e-4, max_iter=None, random_state=seed)


class TextLearner(PredictorBase):
    """What ``ridge`` and ``knn`` share: the :class:`TextFeatures` settings (``word_ngram_max``,
    ``char_ngram_min``, ``char_ngram_max``, ``char_weight``, ``n_features``, ``min_df``,
    ``char_text``, set by each subclass's ``__init__``), their check, and a ``fit`` that hashes the
    items once and hands the counts to the subclass's ``fit_counts``."""

    requires_fit = True
    name = "text learner"
    word_ngram_max: int
    char_ngram_min: int
    char_ngram_max: int
    char_weight: float
    n_features: int
    min_df: int
    char_text: str

    def _check(self) -> None:
        """The settings' types and ranges (harness.config_check.RANGES, as a composed config's
        are checked), then the one they cannot say: char_ngram_max ≥ char_ngram_min."""
        check_instance(self)
        check_ngram_range(self.char_ngram_min, self.char_ngram_max)

    def features(self) -> TextFeatures:
        return TextFeatures(
            self.word_ngram_max,
            self.char_ngram_min,
            self.char_ngram_max,
            self.char_weight,
            self.n_features,
            self.min_df,
            self.char_text,
        )

    def fit(self, train_items: Sequence[Item]) -> Self:
        self._check()
        require_items(self.name, train_items)
        features = self.features()
        return self.fit_counts(features, features.counts(train_items), log_prices(train_items))

    def fit_counts(self, features: TextFeatures, counts: tuple[Any, Any], logs: Any) -> Self:
        """Fit on the hashed counts ``features.counts(items)`` of the items whose
        ``log1p(price)`` is ``logs`` (so a caller fitting on several subsets hashes once)."""
        raise NotImplementedError


class RidgePricer(TextLearner):
    """TF-IDF (words of the body, character n-grams of the title), Ridge on ``log1p(price)``."""

    name = "ridge"

    def __init__(
        self,
        alpha: float = 1.0,
        word_ngram_max: int = 2,
        char_ngram_min: int = 2,
        char_ngram_max: int = 5,
        char_weight: float = 1.0,
        n_features: int = 2**20,
        min_df: int = 2,
        seed: int = 42,
        char_text: Literal["title", "body"] = "title",
    ) -> None:
        self.char_text = char_text
        self.alpha = alpha
        self.word_ngram_max = word_ngram_max
        self.char_ngram_min = char_ngram_min
        self.char_ngram_max = char_ngram_max
        self.char_weight = char_weight
        self.n_features = n_features
        self.min_df = min_df
        self.seed = seed

    def fit_counts(self, features: TextFeatures, counts: tuple[Any, Any], logs: Any) -> RidgePricer:
        """Fit on the hashed counts ``features.counts(items)`` of the items whose
        ``log1p(price)`` is ``logs`` (so a caller fitting on several subsets hashes once)."""
        matrix = features.fit_counts(counts)
        self.model_ = ridge_model(self.alpha, self.seed).fit(matrix, logs)
        self.features_ = features
        return self

    def predict_counts(self, counts: tuple[Any, Any]) -> np.ndarray:
        """The model's ``log1p(price)`` for the items whose hashed counts are ``counts``."""
        check_fitted(self, "model_")
        return np.asarray(
            self.model_.predict(self.features_.transform_counts(counts)), dtype=np.float64
        )

    def predict_log(self, items: Sequence[Item]) -> np.ndarray:
        """The model's ``log1p(price)`` for each item."""
        check_fitted(self, "model_")
        if not items:
            return np.zeros(0)
        return np.asarray(self.model_.predict(self.features_.transform(items)), dtype=np.float64)

    def predict(self, items: Sequence[Item]) -> list[Prediction]:
        check_fitted(self, "model_")
        return [Prediction(float(value)) for value in to_prices(self.predict_log(items))]
