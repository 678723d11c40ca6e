"""The course's text baselines (week 6, "baseline" notebook): bag of words and word2vec.

Every model reads only ``item.body``: the test prompt (2024 edition), or the item's summary (2025
edition, as that edition's NLP baselines read ``item.summary``). The three word2vec predictors
share one recipe for document vectors: gensim Word2Vec trained on ``simple_preprocess`` of the
training texts, and a text's vector is the mean of its in-vocabulary word vectors (zeros if none).
Word2Vec runs with one worker, a seed and a stable hash function, so a fit gives the same
vectors in every process whatever ``PYTHONHASHSEED`` is.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from typing import Any

import numpy as np

from harness.data import Item
from harness.errors import PricebenchError
from harness.predictor import Prediction, PredictorBase, check_fitted


def stable_hash(text: str) -> int:
    """A hash of ``text`` that is the same in every process (unlike the built-in ``hash``)."""
    return zlib.crc32(text.encode("utf-8"))


def tokenize(text: str) -> list[str]:
    """The course's tokenisation for word2vec: ``gensim.utils.simple_preprocess``."""
    from gensim.utils import simple_preprocess

    words: list[str] = simple_preprocess(text)
    return words


def _require_items(name: str, train_items: Sequence[Item]) -> None:
    if not train_items:
        raise PricebenchError(
            f"{name} needs training items to fit; check data.train_path (or data.path), "
            "or choose a predictor that needs no training"
        )


def _guesses(predicted: Any) -> list[Prediction]:
    return [Prediction(max(float(value), 0.0)) for value in predicted]


class BagOfWordsLR(PredictorBase):
    """CountVectorizer word counts of the prompt, then LinearRegression."""

    requires_fit = True
    name = "bow_lr"

    def __init__(self, max_features: int | None = 1000, stop_words: str | None = "english") -> None:
        self.max_features = max_features
        self.stop_words = stop_words

    def fit(self, train_items: Sequence[Item]) -> BagOfWordsLR:
        from sklearn.feature_extraction.text import CountVectorizer
        from sklearn.linear_model import LinearRegression

        _require_items(self.name, train_items)
        self.vectorizer_ = CountVectorizer(
            max_features=self.max_features, stop_words=self.stop_words
        )
        try:
            counts = self.vectorizer_.fit_transform([item.body for item in train_items])
        except ValueError as exc:  # "empty vocabulary"
            raise PricebenchError(
                f"{self.name}: the training prompts yield no words to count ({exc})"
            ) from None
        self.model_ = LinearRegression().fit(counts, [item.price for item in train_items])
        return self

    def predict(self, items: Sequence[Item]) -> list[Prediction]:
        check_fitted(self, "model_")
        if not items:
            return []
        return _guesses(self.model_.predict(self.vectorizer_.transform([i.body for i in items])))


class _Word2VecRegressor(PredictorBase):
    """Word2Vec document vectors, then the regressor that ``_regressor()`` builds."""

    requires_fit = True
    name = "word2vec"

    def __init__(
        self,
        vector_size: int = 400,
        window: int = 5,
        min_count: int = 1,
        epochs: int = 5,
        seed: int = 42,
    ) -> None:
        self.vector_size = vector_size
        self.window = window
        self.min_count = min_count
        self.epochs = epochs
        self.seed = seed

    def _regressor(self) -> Any:
        raise NotImplementedError

    def fit(self, train_items: Sequence[Item]) -> _Word2VecRegressor:
        from gensim.models import Word2Vec

        _require_items(self.name, train_items)
        documents = [tokenize(item.body) for item in train_items]
        if not any(documents):
            raise PricebenchError(f"{self.name}: the training prompts hold no words to embed")
        try:
            self.word2vec_ = Word2Vec(
                sentences=documents,
                vector_size=self.vector_size,
                window=self.window,
                min_count=self.min_count,
                epochs=self.epochs,
                seed=self.seed,
                workers=1,
                hashfxn=stable_hash,
            )
        except RuntimeError as exc:  # gensim: "you must first build vocabulary ..."
            raise PricebenchError(
                f"{self.name}: word2vec learned no vocabulary ({exc}); lower predictor.min_count"
            ) from None
        vectors = self._vectors(documents)
        self.model_ = self._regressor().fit(vectors, np.array([i.price for i in train_items]))
        return self

    def document_vectors(self, items: Sequence[Item]) -> np.ndarray:
        """One row per item: the mean of its prompt's in-vocabulary word vectors (or zeros)."""
        check_fitted(self, "word2vec_")
        return self._vectors([tokenize(item.body) for item in items])

    def _vectors(self, documents: list[list[str]]) -> np.ndarray:
        keyed = self.word2vec_.wv
        index = keyed.key_to_index
        vectors = np.zeros((len(documents), keyed.vector_size), dtype=keyed.vectors.dtype)
        for row, words in enumerate(documents):
            known = [index[word] for word in words if word in index]
            if known:
                vectors[row] = keyed.vectors[known].mean(axis=0)
        return vectors

    def predict(self, items: Sequence[Item]) -> list[Prediction]:
        check_fitted(self, "model_")
        if not items:
            return []
        return _guesses(self.model_.predict(self.document_vectors(items)))


class Word2VecLR(_Word2VecRegressor):
    """Word2Vec document vectors, then LinearRegression."""

    name = "word2vec_lr"

    def _regressor(self) -> Any:
        from sklearn.linear_model import LinearRegression

        return LinearRegression()


class Word2VecSVR(_Word2VecRegressor):
    """Word2Vec document vectors, then LinearSVR."""

    name = "svr"

    def __init__(
        self,
        vector_size: int = 400,
        window: int = 5,
        min_count: int = 1,
        epochs: int = 5,
        seed: int = 42,
        C: float = 1.0,
        random_state: int | None = 42,
        max_iter: int = 1000,
    ) -> None:
        super().__init__(vector_size, window, min_count, epochs, seed)
        self.C = C
        self.random_state = random_state
        self.max_iter = max_iter

    def _regressor(self) -> Any:
        from sklearn.svm import LinearSVR

        return LinearSVR(C=self.C, random_state=self.random_state, max_iter=self.max_iter)


class Word2VecForest(_Word2VecRegressor):
    """Word2Vec document vectors, then RandomForestRegressor."""

    name = "random_forest"

    def __init__(
        self,
        vector_size: int = 400,
        window: int = 5,
        min_count: int = 1,
        epochs: int = 5,
        seed: int = 42,
        n_estimators: int = 100,
        random_state: int | None = 42,
        n_jobs: int | None = 2,
    ) -> None:
        super().__init__(vector_size, window, min_count, epochs, seed)
        self.n_estimators = n_estimators
        self.random_state = random_state
        self.n_jobs = n_jobs

    def _regressor(self) -> Any:
        from sklearn.ensemble import RandomForestRegressor

        return RandomForestRegressor(
            n_estimators=self.n_estimators, random_state=self.random_state, n_jobs=self.n_jobs
        )

    def fit(self, train_items: Sequence[Item]) -> Word2VecForest:
        super().fit(train_items)
        # Trees are built in parallel; predicting in parallel would add their outputs in
        # whatever order the threads finish, which changes the guesses' last bits run to run.
        self.model_.set_params(n_jobs=1)
        return self
