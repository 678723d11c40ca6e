"""``gbm``: HistGradientBoosting on ``log1p(price)`` over a compact view of each item.

The columns: the ``ridge`` model's and (``knn_k`` > 0) the ``knn`` model's out-of-fold
``log1p(price)``, with the knn's similarity to its nearest training item (each training item's from
a model fitted on the other folds, so the boosting never sees a prediction made with its own price;
items to predict get the models fitted on all the training items), ``n_components`` TruncatedSVD
components of the words' TF-IDF, the numbers the description states
(:func:`predictors.text_features.numeric_features`: weight, dimensions, wattage, ...) and the
category. A guess is ``blend`` x ridge + (1 - ``blend``) x boosting, in log space, then ``expm1``.
Every step is seeded; the boosting's threads do not change its result.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from harness.config_check import check_instance
from harness.data import Item
from harness.errors import PricebenchError
from harness.predictor import Prediction, PredictorBase, check_fitted
from predictors.knn import KnnPricer
from predictors.ridge import RidgePricer
from predictors.text_features import (
    CategoryCodes,
    bodies,
    log_prices,
    numeric_matrix,
    require_items,
    to_prices,
)


def _ridge_columns(ridge: RidgePricer, counts: tuple[Any, Any]) -> np.ndarray:
    """The ridge's column: its ``log1p(price)``."""
    return ridge.predict_counts(counts)[:, None]


def _knn_columns(knn: KnnPricer, counts: tuple[Any, Any]) -> np.ndarray:
    """The knn's columns: its ``log1p(price)`` and the similarity of the nearest item."""
    return np.column_stack(knn.neighbours_counts(counts))


class GbmPricer(PredictorBase):
    """HistGradientBoostingRegressor on out-of-fold ridge and knn, SVD of TF-IDF, numbers,
    category."""

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
        blend: float = 0.3,
        seed: int = 42,
        n_threads: int = 1,
        knn_k: int = 20,
        knn_power: float = 3.0,
    ) -> None:
        self.knn_k = knn_k
        self.knn_power = knn_power
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

    def _knn(self) -> KnnPricer:
        return KnnPricer(k=self.knn_k, power=self.knn_power)

    def _out_of_fold(
        self,
        make: Callable[[], Any],
        full: Any,
        counts: tuple[Any, Any],
        logs: np.ndarray,
        predict: Callable[[Any, tuple[Any, Any]], np.ndarray],
    ) -> np.ndarray:
        """Each training item's ``log1p(price)`` from a model (``make()``: a ridge or a knn)
        fitted without its fold; ``full`` is the one fitted on every item."""
        n = len(logs)
        folds = min(self.folds, n)
        if folds < 2:  # one item: no other fold to learn from; its own fit stands in
            return predict(full, counts)
        order = np.random.default_rng(self.seed).permutation(n)
        parts: list[tuple[np.ndarray, np.ndarray]] = []
        words, chars = counts
        for fold in range(folds):
            held = np.sort(order[fold::folds])
            kept = np.setdiff1d(np.arange(n), held, assume_unique=True)
            model = make()

            def rows(index: np.ndarray) -> tuple[Any, Any]:
                return words[index], None if chars is None else chars[index]

            try:
                model.fit_counts(model.features(), rows(kept), logs[kept])
            except PricebenchError:  # too few items in the fold to share a word: the full fit
                parts.append((held, predict(full, rows(held))))
                continue
            parts.append((held, predict(model, rows(held))))
        out = np.empty((n, parts[0][1].shape[1]), dtype=np.float64)
        for held, values in parts:
            out[held] = values
        return out

    def _columns(
        self, items: Sequence[Item], counts: tuple[Any, Any], ridge_logs: Any, knn_logs: Any
    ) -> Any:
        parts = [np.reshape(ridge_logs, (-1, 1)).astype(np.float32), numeric_matrix(bodies(items))]
        if knn_logs is not None:
            parts.append(knn_logs.astype(np.float32))
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
        oof = self._out_of_fold(self._ridge, self.ridge_, counts, logs, _ridge_columns)
        self.knn_ = None
        knn_oof = None
        if self.knn_k > 0:
            knn = self._knn()
            knn_features = knn.features()
            knn_counts = knn_features.counts(train_items)
            self.knn_ = knn.fit_counts(knn_features, knn_counts, logs)
            knn_oof = self._out_of_fold(self._knn, self.knn_, knn_counts, logs, _knn_columns)
            del knn_counts
        self.categories_ = CategoryCodes().fit(train_items)
        self.svd_ = None
        words = features.words.transform_counts(counts[0])
        components = min(self.n_components, words.shape[1] - 1, len(train_items) - 1)
        if components > 0:
            # https://scikit-learn.org/stable/modules/generated/sklearn.decomposition.TruncatedSVD.html
            self.svd_ = TruncatedSVD(components, algorithm="randomized", random_state=self.seed)
            # (items whose texts are all alike have no variance: the explained-variance ratio,
            # which nothing here reads, divides by zero)
            with np.errstate(invalid="ignore", divide="ignore"):
                self.svd_.fit(words)
        del words
        columns = self._columns(train_items, counts, oof, knn_oof)
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
        knn_logs = (
            None
            if self.knn_ is None
            else _knn_columns(self.knn_, self.knn_.features_.counts(items))
        )
        with threadpool_limits(limits=self.n_threads):
            boosted = self.model_.predict(self._columns(items, counts, ridge_logs, knn_logs))
        return self.blend * ridge_logs + (1.0 - self.blend) * np.asarray(boosted, np.float64)

    def predict(self, items: Sequence[Item]) -> list[Prediction]:
        check_fitted(self, "model_")
        return [Prediction(float(value)) for value in to_prices(self.predict_log(items))]
