"""``ridge``: TF-IDF of the description's words and the title's character n-grams, then Ridge
regression on ``log1p(price)``; a guess is ``expm1`` of the prediction, never below 0.

Both TF-IDF blocks are hashed (:class:`predictors.text_features.HashedTfidf`), so no vocabulary is
held, and each is built once in place, side by side with the other, never stacked into a copy:
the solver (:func:`solve_ridge`, scikit-learn's sparse_cg formulation over the blocks) reads them
as they are (``benchmarks/bench_learners.py`` measures the fit at 400,000 items). The solver is
deterministic: the same items give the same guesses in every process.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, Self

import numpy as np

from harness.config_check import Range, check_instance, check_value
from harness.data import Item
from harness.predictor import Prediction, PredictorBase, check_fitted
from predictors.text_features import (
    CHUNK,
    HashedTfidf,
    bodies,
    log_prices,
    require_items,
    titles,
    to_prices,
)


class TextFeatures:
    """The text learners' design matrix, as blocks side by side (never copied into one matrix):
    word TF-IDF of the body, and (``char_weight`` > 0) char TF-IDF of the title (or the body)
    times ``char_weight``."""

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
            HashedTfidf(
                "char_wb",
                (char_ngram_min, char_ngram_max),
                n_features,
                min_df,
                weight=char_weight,
            )  # fmt: skip
            if char_weight > 0
            else None
        )
        self.char_weight = char_weight

    def _char_texts(self, items: Sequence[Item]) -> list[str]:
        return titles(items) if self.char_text == "title" else bodies(items)

    def fit_transform(self, items: Sequence[Item]) -> list[Any]:
        """Learn each block's columns and weights from ``items``; their blocks (CSR)."""
        blocks = [self.words.fit_transform(bodies(items))]
        if self.chars is not None:
            blocks.append(self.chars.fit_transform(self._char_texts(items)))
        return blocks

    def transform(self, items: Sequence[Item]) -> list[Any]:
        blocks = [self.words.transform(bodies(items))]
        if self.chars is not None:
            blocks.append(self.chars.transform(self._char_texts(items)))
        return blocks


def take_rows(blocks: list[Any], rows: np.ndarray) -> list[Any]:
    """The given rows of each block."""
    return [block[rows] for block in blocks]


def column_sums(block: Any, weights: np.ndarray) -> np.ndarray:
    """``block' weights`` in float64, a few rows at a time (a whole float32 block times a float64
    vector would first be copied to float64: 1 GB more at 400,000 items)."""
    out = np.zeros(block.shape[1], dtype=np.float64)
    for start in range(0, block.shape[0], CHUNK):
        rows = block[start : start + CHUNK]
        out += np.asarray(rows.T @ weights[start : start + CHUNK], dtype=np.float64).ravel()
    return out


def solve_ridge(
    blocks: list[Any],
    y: np.ndarray,
    alpha: float,
    rows: np.ndarray | None = None,
    start: list[np.ndarray] | None = None,
    tol: float = 1e-6,
) -> tuple[list[np.ndarray], float]:
    """Ridge regression with an intercept on the rows ``rows`` (a boolean mask; all when None)
    of the blocks side by side, without copying them: each block's coefficients and the
    intercept.

    It is scikit-learn's ``Ridge(solver="sparse_cg")`` formulation
    (https://scikit-learn.org/stable/modules/generated/sklearn.linear_model.Ridge.html: the
    columns centred implicitly, conjugate gradients on ``(X'X + alpha I) w = X'y``), written
    over a ``scipy.sparse.linalg.LinearOperator`` so that a subset of the rows (a fold) is a
    mask instead of a copy of 400,000 rows. ``start`` (coefficients of a fit on more rows)
    starts the iterations there. Deterministic: the same input gives the same coefficients.
    """
    from scipy.sparse.linalg import LinearOperator, cg

    n = blocks[0].shape[0]
    mask = np.ones(n, dtype=np.float64) if rows is None else rows.astype(np.float64)
    kept = float(mask.sum())
    widths = [block.shape[1] for block in blocks]
    edges = np.cumsum([0, *widths])
    means = np.concatenate([column_sums(block, mask) / kept for block in blocks])
    y_mean = float(mask @ y) / kept

    def times(v: np.ndarray) -> np.ndarray:  # mask * (X - 1 means') v
        out = sum(
            block @ v[edges[i] : edges[i + 1]].astype(np.float32) for i, block in enumerate(blocks)
        )
        return (np.asarray(out, dtype=np.float64) - float(means @ v)) * mask

    def times_t(u: np.ndarray) -> np.ndarray:  # (X - 1 means')' mask u
        u = (u * mask).astype(np.float32)
        parts = [np.asarray(block.T @ u, dtype=np.float64) for block in blocks]
        return np.concatenate(parts) - means * float(u.sum())

    size = int(edges[-1])
    normal = LinearOperator(
        (size, size), matvec=lambda v: times_t(times(v)) + alpha * v, dtype=np.float64
    )
    x0 = None if start is None else np.concatenate(start)
    # https://docs.scipy.org/doc/scipy/reference/generated/scipy.sparse.linalg.cg.html
    coef, _ = cg(normal, times_t(y - y_mean), x0=x0, rtol=tol, maxiter=10 * size)
    return (
        [coef[edges[i] : edges[i + 1]] for i in range(len(blocks))],
        float(y_mean - means @ coef),
    )


def ridge_predict(blocks: list[Any], coef: list[np.ndarray], intercept: float) -> np.ndarray:
    """``X w + b`` of the blocks side by side."""
    out = sum(block @ c for block, c in zip(blocks, coef, strict=True))
    return np.asarray(out, dtype=np.float64) + intercept


def check_ngram_range(char_ngram_min: int, char_ngram_max: int) -> None:
    """``predictor.char_ngram_max must be an integer ≥ <char_ngram_min>, got ...``."""
    check_value("predictor.char_ngram_max", char_ngram_max, int, Range(char_ngram_min))


class TextLearner(PredictorBase):
    """What ``ridge`` and ``knn`` share: the :class:`TextFeatures` settings (set here, with
    ``ridge``'s defaults; a subclass's ``__init__`` passes them on as ``**settings``), their check,
    and a ``fit`` that builds the items' blocks once and hands them to the subclass's
    ``fit_blocks``."""

    requires_fit = True
    name = "text learner"

    def __init__(
        self,
        word_ngram_max: int = 2,
        char_ngram_min: int = 2,
        char_ngram_max: int = 5,
        char_weight: float = 1.0,
        n_features: int = 2**20,
        min_df: int = 2,
        char_text: Literal["title", "body"] = "title",
    ) -> None:
        self.word_ngram_max = word_ngram_max
        self.char_ngram_min = char_ngram_min
        self.char_ngram_max = char_ngram_max
        self.char_weight = char_weight
        self.n_features = n_features
        self.min_df = min_df
        self.char_text = char_text

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
        return self.fit_blocks(
            features, features.fit_transform(train_items), log_prices(train_items)
        )

    def fit_blocks(self, features: TextFeatures, blocks: list[Any], logs: Any) -> Self:
        """Fit on ``blocks`` (``features.fit_transform(items)``) of the items whose
        ``log1p(price)`` is ``logs``."""
        raise NotImplementedError


class RidgePricer(TextLearner):
    """TF-IDF (words of the body, character n-grams of the title), Ridge on ``log1p(price)``."""

    name = "ridge"

    def __init__(self, alpha: float = 1.0, seed: int = 42, **settings: Any) -> None:
        super().__init__(**settings)
        self.alpha = alpha
        self.seed = seed

    def fit_blocks(self, features: TextFeatures, blocks: list[Any], logs: Any) -> RidgePricer:
        """Fit on ``blocks`` (``features.fit_transform(items)``) of the items whose
        ``log1p(price)`` is ``logs``; the blocks are not kept."""
        self.coef_, self.intercept_ = solve_ridge(blocks, np.asarray(logs), self.alpha)
        self.features_ = features
        return self

    def predict_blocks(self, blocks: list[Any]) -> np.ndarray:
        """The model's ``log1p(price)`` for the items whose blocks are ``blocks``."""
        check_fitted(self, "coef_")
        return ridge_predict(blocks, self.coef_, self.intercept_)

    def predict_log(self, items: Sequence[Item]) -> np.ndarray:
        """The model's ``log1p(price)`` for each item."""
        check_fitted(self, "coef_")
        if not items:
            return np.zeros(0)
        return self.predict_blocks(self.features_.transform(items))

    def predict(self, items: Sequence[Item]) -> list[Prediction]:
        check_fitted(self, "coef_")
        return [Prediction(float(value)) for value in to_prices(self.predict_log(items))]
