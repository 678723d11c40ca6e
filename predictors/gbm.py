"""``gbm``: HistGradientBoosting on ``log1p(price)`` over a compact view of each item.

The columns: the ``ridge`` model's and (``knn_k`` > 0) the ``knn`` model's out-of-fold
``log1p(price)``, with the knn's similarity to its nearest training item (each stacked item's from
a model that never saw its fold's prices, so the boosting never sees a prediction made with its own
price; items to predict get the models fitted on all the training items), ``n_components``
TruncatedSVD components of the words' TF-IDF, the numbers the description states
(:func:`predictors.text_features.numeric_features`: weight, dimensions, wattage, ...) and the
category. A guess is ``blend`` x ridge + (1 - ``blend``) x boosting, in log space, then ``expm1``.

Memory and time stay bounded on a large pool: the TF-IDF (learned once from every training text;
no prices are involved) is built once, a fold's ridge is the full ridge refitted with the fold's
rows masked out (no copy), and the boosting learns from at most ``stack_size`` items (a seeded
sample; every item of a smaller pool). The ridge learns from every item; the stacked knn's
neighbours are those ``stack_size`` items (a query costs one similarity per neighbour, so 400,000
of them would make the out-of-fold columns cost hours), its fold's items kept out of an item's
neighbours. Every step is seeded; the boosting's threads do not change its result.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from harness.config_check import check_instance
from harness.data import Item
from harness.predictor import Prediction, PredictorBase, check_fitted
from predictors.knn import KnnPricer
from predictors.ridge import RidgePricer, ridge_predict, solve_ridge, take_rows
from predictors.text_features import (
    CategoryCodes,
    bodies,
    log_prices,
    numeric_matrix,
    require_items,
    to_prices,
)


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
        stack_size: int = 20_000,
    ) -> None:
        self.stack_size = stack_size
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

    def _folds(self, n: int) -> tuple[np.ndarray, list[np.ndarray]]:
        """The items the boosting learns from (all, or a seeded sample of ``stack_size``), and
        their split into ``folds`` folds (each a sorted array of item positions)."""
        rng = np.random.default_rng(self.seed)
        stacked = (
            np.arange(n)
            if n <= self.stack_size
            else np.sort(rng.choice(n, self.stack_size, replace=False))
        )
        order = rng.permutation(len(stacked))
        folds = min(self.folds, len(stacked))
        return stacked, [np.sort(stacked[order[f::folds]]) for f in range(folds)]

    def _ridge_out_of_fold(
        self, blocks: list[Any], logs: np.ndarray, folds: list[np.ndarray]
    ) -> np.ndarray:
        """Each stacked item's ridge ``log1p(price)`` from a ridge fitted on every training item
        but its fold's (a mask: the blocks are not copied), started from the full fit."""
        out = np.empty(len(logs), dtype=np.float64)
        full = self.ridge_
        for held in folds:
            rows = np.ones(len(logs), dtype=bool)
            rows[held] = False
            if len(folds) < 2 or not rows.any():  # nothing else to learn from: the full fit
                out[held] = full.predict_blocks(take_rows(blocks, held))
                continue
            coef, intercept = solve_ridge(blocks, logs, full.alpha, rows=rows, start=full.coef_)
            out[held] = ridge_predict(take_rows(blocks, held), coef, intercept)
        return out

    def _knn_out_of_fold(self, knn: KnnPricer, folds: list[np.ndarray], n: int) -> np.ndarray:
        """Each stacked item's knn columns, its own fold's items never among its neighbours."""
        out = np.empty((n, 2), dtype=np.float64)
        for held in folds:
            exclude = np.zeros(n, dtype=bool)
            if len(folds) >= 2:
                exclude[held] = True
            out[held] = np.column_stack(
                knn.neighbours(take_rows(knn.blocks_, held), exclude=exclude)
            )
        return out

    def _columns(self, items: Sequence[Item], words: Any, ridge_logs: Any, knn_logs: Any) -> Any:
        parts = [np.reshape(ridge_logs, (-1, 1)).astype(np.float32), numeric_matrix(bodies(items))]
        if knn_logs is not None:
            parts.append(knn_logs.astype(np.float32))
        if self.svd_ is not None:
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
        n = len(train_items)
        stacked, folds = self._folds(n)
        self.stacked_ = stacked  # (positions of the items the boosting learns from)
        ridge = self._ridge()
        features = ridge.features()
        blocks = features.fit_transform(train_items)
        self.ridge_ = ridge.fit_blocks(features, blocks, logs)
        ridge_oof = self._ridge_out_of_fold(blocks, logs, folds)[stacked]
        self.svd_ = None
        words = blocks[0]
        components = min(self.n_components, words.shape[1] - 1, n - 1)
        if components > 0:
            # https://scikit-learn.org/stable/modules/generated/sklearn.decomposition.TruncatedSVD.html
            self.svd_ = TruncatedSVD(components, algorithm="randomized", random_state=self.seed)
            # (items whose texts are all alike have no variance: the explained-variance ratio,
            # which nothing here reads, divides by zero)
            with np.errstate(invalid="ignore", divide="ignore"):
                self.svd_.fit(words)
        stacked_words = words[stacked]
        del blocks, words  # the ridge keeps its coefficients only
        items = [train_items[i] for i in stacked]
        self.knn_ = None
        knn_oof = None
        if self.knn_k > 0:  # its neighbours: the stacked items (each query costs one per item)
            self.knn_ = self._knn().fit(items)
            local = [np.searchsorted(stacked, held) for held in folds]
            knn_oof = self._knn_out_of_fold(self.knn_, local, len(stacked))
        self.categories_ = CategoryCodes().fit(train_items)
        columns = self._columns(items, stacked_words, ridge_oof, knn_oof)
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
        ).fit(columns, logs[stacked])
        return self

    def predict_log(self, items: Sequence[Item]) -> np.ndarray:
        """``blend`` x ridge + (1 - ``blend``) x boosting, in ``log1p(price)``."""
        from threadpoolctl import threadpool_limits

        check_fitted(self, "model_")
        if not items:
            return np.zeros(0)
        blocks = self.ridge_.features_.transform(items)
        ridge_logs = self.ridge_.predict_blocks(blocks)
        knn_logs = (
            None
            if self.knn_ is None
            else np.column_stack(self.knn_.neighbours(self.knn_.features_.transform(items)))
        )
        with threadpool_limits(limits=self.n_threads):
            boosted = self.model_.predict(self._columns(items, blocks[0], ridge_logs, knn_logs))
        return self.blend * ridge_logs + (1.0 - self.blend) * np.asarray(boosted, np.float64)

    def predict(self, items: Sequence[Item]) -> list[Prediction]:
        check_fitted(self, "model_")
        return [Prediction(float(value)) for value in to_prices(self.predict_log(items))]
