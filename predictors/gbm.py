"""``gbm``: HistGradientBoosting on ``log1p(price)`` over a compact view of each item.

The columns: the ``ridge`` model's out-of-fold ``log1p(price)`` (each training item's from a ridge
fitted on the other folds, so the boosting never sees a prediction made with its own price; items
to predict get the ridge fitted on all the training items), ``n_components`` TruncatedSVD
components of the words' TF-IDF, the numbers the description states
(:func:`predictors.text_features.numeric_features`: weight, dimensions, wattage, ...) and the
category. A guess is ``blend`` x ridge + (1 - ``blend``) x boosting, in log space, then ``expm1``.
Every step is seeded; the boosting's threads do not change its result.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from harness.config_check import check_instance
from harness.data import Item
from harness.errors import PricebenchError
from harness.predictor import Prediction, PredictorBase, check_fitted
from predictors.ridge import RidgePricer
from predictors.text_features import (
    CategoryCodes,
    bodies,
    log_prices,
    numeric_matrix,
    require_items,
    to_prices,
)


class GbmPricer(PredictorBase):
    """HistGradientBoostingRegressor on out-of-fold ridge, SVD of TF-IDF, numbers, category."""

    requires_fit = True
    name = "gbm"

    def __init__(
        self,
        n_components: int = 32,
        folds: int = 5,
        ridge_alpha: float = 1.0,
        learning_rate: float = 0.05,
        max_iter: int = 300,
        max_leaf_nodes: int = 15,
        min_samples_leaf: int = 20,
        l2_regularization: float = 1.0,
        blend: float = 0.5,
        seed: int = 42,
        n_threads: int = 1,
    ) -> None:
        self.n_components = n_components
        self.folds = folds
        self.ridge_alpha = ridge_alpha
        self.learning_rate = learning_rate
        self.max_iter = max_iter
        self.max_leaf_nodes = max_leaf_nodes
        self.min_samples_leaf = min_samples_leaf
        self.l2_regularization = l2_regularization
        self.blend = blend
        self.seed = seed
        self.n_threads = n_threads

    def _check(self) -> None:
        """The settings' types and ranges (harness.config_check.RANGES, as a composed config's
        are checked)."""
        check_instance(self)

    def _ridge(self) -> RidgePricer:
        return RidgePricer(alpha=self.ridge_alpha, seed=self.seed)

    def _out_of_fold(self, counts: tuple[Any, Any], logs: np.ndarray) -> np.ndarray:
        """Each training item's ridge ``log1p(price)`` from a ridge fitted without its fold."""
        n = len(logs)
        folds = min(self.folds, n)
        if folds < 2:  # one item: no other fold to learn from; its own fit stands in
            return self.ridge_.predict_counts(counts)
        order = np.random.default_rng(self.seed).permutation(n)
        out = np.empty(n, dtype=np.float64)
        words, chars = counts
        for fold in range(folds):
            held = np.sort(order[fold::folds])
            kept = np.setdiff1d(np.arange(n), held, assume_unique=True)
            ridge = self._ridge()

            def rows(index: np.ndarray) -> tuple[Any, Any]:
                return words[index], None if chars is None else chars[index]

            try:
                ridge.fit_counts(ridge.features(), rows(kept), logs[kept])
            except PricebenchError:  # too few items in the fold to share a word: the full fit
                out[held] = self.ridge_.predict_counts(rows(held))
                continue
            out[held] = ridge.predict_counts(rows(held))
        return out

    def _columns(self, items: Sequence[Item], counts: tuple[Any, Any], ridge_logs: Any) -> Any:
        parts = [ridge_logs[:, None].astype(np.float32), numeric_matrix(bodies(items))]
        if self.svd_ is not None:
            words = self.ridge_.features_.words.transform_counts(counts[0])
            parts.append(self.svd_.transform(words).astype(np.float32))
        parts.append(self.categories_.transform(items)[:, None])
        return np.hstack(parts)

    def fit(self, train_items: Sequence[Item]) -> GbmPricer:
        import sklearn.decomposition  # noqa: F401  (loads BLAS and OpenMP before they are limited)
        import sklearn.ensemble  # noqa: F401
        from threadpoolctl import threadpool_limits

        self._check()
        require_items(self.name, train_items)
        # BLAS (the SVD) and OpenMP (the boosting) threads: n_threads changes only the speed.
        # (threadpoolctl limits only the libraries already loaded: hence the imports above.)
        with threadpool_limits(limits=self.n_threads):
            return self._fit(train_items)

    def _fit(self, train_items: Sequence[Item]) -> GbmPricer:
        from sklearn.decomposition import TruncatedSVD
        from sklearn.ensemble import HistGradientBoostingRegressor

        logs = log_prices(train_items)
        ridge = self._ridge()
        features = ridge.features()
        counts = features.counts(train_items)  # hashed once, for every ridge fitted here
        self.ridge_ = ridge.fit_counts(features, counts, logs)
        oof = self._out_of_fold(counts, logs)
        self.categories_ = CategoryCodes().fit(train_items)
        self.svd_ = None
        words = features.words.transform_counts(counts[0])
        components = min(self.n_components, words.shape[1] - 1, len(train_items) - 1)
        if components > 0:
            # https://scikit-learn.org/stable/modules/generated/sklearn.decomposition.TruncatedSVD.html
            self.svd_ = TruncatedSVD(components, algorithm="randomized", random_state=self.seed)
            self.svd_.fit(words)
        del words
        columns = self._columns(train_items, counts, oof)
        # https://scikit-learn.org/stable/modules/generated/sklearn.ensemble.HistGradientBoostingRegressor.html
        # categorical_features by index (negative codes are read as missing); no early stopping,
        # so the result does not depend on a validation split; its OpenMP threads (n_threads)
        # change only the speed.
        self.model_ = HistGradientBoostingRegressor(
            learning_rate=self.learning_rate,
            max_iter=self.max_iter,
            max_leaf_nodes=self.max_leaf_nodes,
            min_samples_leaf=self.min_samples_leaf,
            l2_regularization=self.l2_regularization,
            categorical_features=[columns.shape[1] - 1],
            early_stopping=False,
            random_state=self.seed,
        ).fit(columns, logs)
        return self

    def predict_log(self, items: Sequence[Item]) -> np.ndarray:
        """``blend`` x ridge + (1 - ``blend``) x boosting, in ``log1p(price)``."""
        from threadpoolctl import threadpool_limits

        check_fitted(self, "model_")
        if not items:
            return np.zeros(0)
        counts = self.ridge_.features_.counts(items)
        ridge_logs = self.ridge_.predict_counts(counts)
        with threadpool_limits(limits=self.n_threads):
            boosted = self.model_.predict(self._columns(items, counts, ridge_logs))
        return self.blend * ridge_logs + (1.0 - self.blend) * np.asarray(boosted, np.float64)

    def predict(self, items: Sequence[Item]) -> list[Prediction]:
        check_fitted(self, "model_")
        return [Prediction(float(value)) for value in to_prices(self.predict_log(items))]
