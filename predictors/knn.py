"""``knn``: the ``k`` training items most similar to an item (cosine of their TF-IDF, words of
the body and character n-grams of the title, as ``ridge`` reads them), and a guess that is the
similarity-weighted mean of their ``log1p(price)``, back in dollars.

Similarities are computed a block of items at a time (a sparse product with the training matrix),
so predicting against 400,000 training items holds one ``block x n_train`` array at a time. Ties
in similarity are broken by training order, so guesses do not depend on the machine.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

from harness.data import Item
from harness.predictor import Prediction, check_fitted
from predictors.ridge import TextFeatures, TextLearner
from predictors.text_features import to_prices

# Items whose similarities are computed at once: 256 x 400,000 float32 is 400 MB at most.
_BLOCK = 256


class KnnPricer(TextLearner):
    """Similarity-weighted mean log price of the ``k`` nearest training items by TF-IDF cosine."""

    name = "knn"

    def __init__(
        self,
        k: int = 20,
        power: float = 3.0,
        word_ngram_max: int = 1,
        char_ngram_min: int = 2,
        char_ngram_max: int = 5,
        char_weight: float = 0.5,
        n_features: int = 2**20,
        min_df: int = 1,
        char_text: Literal["title", "body"] = "title",
    ) -> None:
        self.char_text = char_text
        self.k = k
        self.power = power
        self.word_ngram_max = word_ngram_max
        self.char_ngram_min = char_ngram_min
        self.char_ngram_max = char_ngram_max
        self.char_weight = char_weight
        self.n_features = n_features
        self.min_df = min_df

    def fit_counts(self, features: TextFeatures, counts: tuple[Any, Any], logs: Any) -> KnnPricer:
        """Fit on the hashed counts ``features.counts(items)`` of the items whose
        ``log1p(price)`` is ``logs`` (so a caller fitting on several subsets hashes once)."""
        from sklearn.preprocessing import normalize

        # Kept transposed (terms x items): a block of queries times it gives their similarities.
        self.matrix_t_ = normalize(features.fit_counts(counts)).T.tocsr()
        self.logs_ = np.asarray(logs, dtype=np.float64)
        self.features_ = features
        return self

    def predict_log(self, items: Sequence[Item]) -> np.ndarray:
        """The weighted mean ``log1p(price)`` of each item's neighbours."""
        check_fitted(self, "matrix_t_")
        if not items:
            return np.zeros(0)
        return self.predict_counts(self.features_.counts(items))

    def predict_counts(self, counts: tuple[Any, Any]) -> np.ndarray:
        """:meth:`predict_log` of the items whose hashed counts are ``counts``."""
        return self.neighbours_counts(counts)[0]

    def neighbours_counts(self, counts: tuple[Any, Any]) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`predict_counts` and, beside it, each item's similarity to its nearest
        training item (how much a neighbour's price may be trusted)."""
        from sklearn.preprocessing import normalize

        check_fitted(self, "matrix_t_")
        queries = normalize(self.features_.transform_counts(counts)).astype(np.float32)
        n_items = queries.shape[0]
        k = min(self.k, self.matrix_t_.shape[1])
        fallback = float(np.mean(self.logs_))
        out = np.empty(n_items, dtype=np.float64)
        nearest = np.zeros(n_items, dtype=np.float64)
        for start in range(0, n_items, _BLOCK):
            sims = (queries[start : start + _BLOCK] @ self.matrix_t_).toarray()
            # The k largest, ties to the earlier training item: a stable sort of -similarity.
            order = np.argsort(-sims, axis=1, kind="stable")[:, :k]
            top = np.take_along_axis(sims, order, axis=1).astype(np.float64)
            weights = np.clip(top, 0.0, None) ** self.power
            totals = weights.sum(axis=1)
            values = (weights * self.logs_[order]).sum(axis=1)
            block = np.where(totals > 0, values / np.where(totals > 0, totals, 1.0), fallback)
            out[start : start + len(block)] = block
            nearest[start : start + len(block)] = top[:, 0] if k else 0.0
        return out, nearest

    def predict(self, items: Sequence[Item]) -> list[Prediction]:
        check_fitted(self, "matrix_t_")
        return [Prediction(float(value)) for value in to_prices(self.predict_log(items))]
