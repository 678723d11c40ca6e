"""The simplest baselines: a seeded random guess and a constant."""

from __future__ import annotations

import random
from collections.abc import Sequence

from harness.data import Item
from harness.errors import PricebenchError
from harness.predictor import Prediction, PredictorBase, check_fitted


class RandomPricer(PredictorBase):
    """``random.seed(seed)`` then one ``random.randrange(low, high)`` per item, in order."""

    requires_fit = False

    def __init__(self, seed: int = 42, low: int = 1, high: int = 1000) -> None:
        self.seed = seed
        self.low = low
        self.high = high

    def fit(self, train_items: Sequence[Item]) -> RandomPricer:
        return self

    def predict(self, items: Sequence[Item]) -> list[Prediction]:
        if not self.low < self.high:
            raise PricebenchError(
                f"predictor.low ({self.low}) must be below predictor.high ({self.high})"
            )
        rng = random.Random(self.seed)
        return [Prediction(float(rng.randrange(self.low, self.high))) for _ in items]


class ConstantPricer(PredictorBase):
    """Guesses one price for everything: ``value`` if given, else the mean training price."""

    def __init__(self, value: float | None = None) -> None:
        self.value = value

    @property
    def requires_fit(self) -> bool:
        return self.value is None

    def fit(self, train_items: Sequence[Item]) -> ConstantPricer:
        if self.value is not None:
            self.value_ = float(self.value)
            return self
        if not train_items:
            raise PricebenchError(
                "the constant predictor needs training items to average, or predictor.value=PRICE"
            )
        self.value_ = sum(item.price for item in train_items) / len(train_items)
        return self

    def predict(self, items: Sequence[Item]) -> list[Prediction]:
        if self.value is not None and not hasattr(self, "value_"):
            return [Prediction(float(self.value)) for _ in items]
        check_fitted(self, "value_", name="the constant predictor")
        return [Prediction(self.value_) for _ in items]
