"""``knn``: the ``k`` training items most similar to an item (cosine of their TF-IDF, words of
the body and character n-grams of the title, as ``ridge`` reads them), and a guess that is the
similarity-weighted mean of their ``log1p(price)``, back in dollars.

The training blocks are kept as they were built (no transposed or normalised copy: each training
row's norm is kept beside them), and similarities are computed a block of queries at a time, a
block small enough that its ``block x n_train`` similarities stay near 100 MB at 400,000 training
items. The ``k`` nearest are picked by partition; ties in similarity at the ``k``-th place are
broken by training order, so guesses do not depend on the machine.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from harness.data import Item
from harness.predictor import Prediction, check_fitted
from predictors.ridge import TextFeatures, TextLearner
from predictors.text_features import CHUNK, to_prices

# Query-block x training-item similarities computed at once (at most 256 queries).
_CELLS = 25_000_000


class KnnPricer(TextLearner):
    """Similarity-weighted mean log price of the ``k`` nearest training items by TF-IDF cosine."""

    name = "knn"

    def __init__(
        self,
        k: int = 20,
        power: float = 3.0,
        word_ngram_max: int = 1,
        char_weight: float = 0.5,
        min_df: int = 1,
        **settings: Any,
    ) -> None:
        super().__init__(
            word_ngram_max=word_ngram_max, char_weight=char_weight, min_df=min_df, **settings
        )
        self.k = k
        self.power = power

    def fit_blocks(self, features: TextFeatures, blocks: list[Any], logs: Any) -> KnnPricer:
        """Keep ``blocks`` (``features.fit_transform(items)``) of the items whose
        ``log1p(price)`` is ``logs``, and each row's norm."""
        self.blocks_ = blocks
        self.norms_ = _norms(blocks)
        self.logs_ = np.asarray(logs, dtype=np.float64)
        self.features_ = features
        return self

    def predict_log(self, items: Sequence[Item]) -> np.ndarray:
        """The weighted mean ``log1p(price)`` of each item's neighbours."""
        check_fitted(self, "blocks_")
        if not items:
            return np.zeros(0)
        return self.neighbours(self.features_.transform(items))[0]

    def neighbours(
        self, queries: list[Any], exclude: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """For the items whose blocks are ``queries``: the weighted mean ``log1p(price)`` of
        their ``k`` nearest training items and, beside it, the similarity of the nearest (how
        much a neighbour's price may be trusted). Training rows where ``exclude`` (a boolean
        mask) is true are never neighbours (an out-of-fold prediction)."""
        check_fitted(self, "blocks_")
        n_train = self.blocks_[0].shape[0]
        allowed = n_train - (0 if exclude is None else int(exclude.sum()))
        k = min(self.k, allowed)
        n_items = queries[0].shape[0]
        fallback = float(np.mean(self.logs_))
        out = np.full(n_items, fallback, dtype=np.float64)
        nearest = np.zeros(n_items, dtype=np.float64)
        if k <= 0:
            return out, nearest
        query_norms = _norms(queries)
        step = int(max(1, min(256, _CELLS // max(n_train, 1))))
        for start in range(0, n_items, step):
            stop = min(start + step, n_items)
            sims = np.zeros((stop - start, n_train), dtype=np.float32)
            for train_block, query_block in zip(self.blocks_, queries, strict=True):
                sims += (train_block @ query_block[start:stop].T).T.toarray()
            with np.errstate(divide="ignore", invalid="ignore"):
                sims /= np.where(self.norms_ > 0, self.norms_, np.inf)[None, :]
                sims /= np.where(query_norms[start:stop] > 0, query_norms[start:stop], np.inf)[
                    :, None
                ]
            if exclude is not None:
                sims[:, exclude] = -np.inf
            chosen = _top(sims, k)
            top = np.take_along_axis(sims, chosen, axis=1).astype(np.float64)
            weights = np.clip(top, 0.0, None) ** self.power
            totals = weights.sum(axis=1)
            values = (weights * self.logs_[chosen]).sum(axis=1)
            out[start:stop] = np.where(
                totals > 0, values / np.where(totals > 0, totals, 1.0), fallback
            )
            nearest[start:stop] = np.clip(top.max(axis=1), 0.0, None)
        return out, nearest

    def predict(self, items: Sequence[Item]) -> list[Prediction]:
        check_fitted(self, "blocks_")
        return [Prediction(float(value)) for value in to_prices(self.predict_log(items))]


def _norms(blocks: list[Any]) -> np.ndarray:
    """Each row's L2 norm over the blocks side by side (a few rows at a time: squaring a whole
    block would copy it)."""
    n = blocks[0].shape[0]
    squares = np.zeros(n, dtype=np.float64)
    for block in blocks:
        for start in range(0, n, CHUNK):
            rows = block[start : start + CHUNK]
            squares[start : start + rows.shape[0]] += np.asarray(
                rows.multiply(rows).sum(axis=1), dtype=np.float64
            ).ravel()
    return np.sqrt(squares).astype(np.float32)


def _top(sims: np.ndarray, k: int) -> np.ndarray:
    """The columns of each row's ``k`` largest values: by partition, except in rows where the
    ``k``-th largest value (above 0) is tied with one left out, which take the earliest training
    items of the tie (a stable sort), so the choice does not depend on the partition's
    algorithm."""
    chosen = np.argpartition(-sims, k - 1, axis=1)[:, :k]
    kth = np.take_along_axis(sims, chosen, axis=1).min(axis=1)
    tied = (kth > 0) & ((sims >= kth[:, None]).sum(axis=1) > k)
    for row in np.flatnonzero(tied):
        chosen[row] = np.argsort(-sims[row], kind="stable")[:k]
    return chosen
