"""The course's feature-engineered linear regression (week 6, "baseline" notebook).

Four features from an item's ``details``: weight in pounds, mean best-sellers rank, prompt length
and a top-electronics-brand flag. A missing (or zero, as in the course's ``weight or average``)
weight or rank falls back to the mean over the training items that have one. A 2025-edition item
has no details: its weight comes from its ``weight`` column and its length is its summary's.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from harness.data import Item
from harness.errors import PricebenchError
from harness.predictor import Prediction, PredictorBase, check_fitted

TOP_ELECTRONICS_BRANDS = (
    "hp",
    "dell",
    "lenovo",
    "samsung",
    "asus",
    "sony",
    "canon",
    "apple",
    "intel",
)
FEATURE_NAMES = ("weight", "rank", "text_length", "is_top_electronics_brand")

# Divide the amount by this to get pounds.
_POUNDS_PER = {
    "pounds": 1.0,
    "ounces": 16.0,
    "grams": 453.592,
    "milligrams": 453592.0,
    "kilograms": 0.453592,
    "hundredths pounds": 100.0,
}


def parse_weight(value: Any) -> float | None:
    """Pounds from an ``Item Weight`` string such as ``"19.3 pounds"``; None when unparseable."""
    if not isinstance(value, str):
        return None
    parts = value.strip().lower().split()
    if len(parts) < 2:
        return None
    try:
        amount = float(parts[0].replace(",", ""))
    except ValueError:
        return None
    divisor = _POUNDS_PER.get(" ".join(parts[1:]))
    if divisor is None or not math.isfinite(amount):
        return None
    return amount / divisor


def weight_of(item: Item) -> float | None:
    """The item's weight in pounds (from its details' ``Item Weight``, or a 2025-edition row's
    ``weight`` column), or None when it has no usable (non-zero) weight."""
    weight = parse_weight((item.details or {}).get("Item Weight"))
    if weight is None and isinstance(item.extra.get("weight"), float):
        weight = item.extra["weight"]
    return weight if weight else None


def rank_of(item: Item) -> float | None:
    """The mean of the item's best-sellers ranks, or None when it has none."""
    ranks = (item.details or {}).get("Best Sellers Rank")
    if not isinstance(ranks, dict):
        return None
    values = [v for v in ranks.values() if isinstance(v, int | float) and not isinstance(v, bool)]
    if not values:
        return None
    rank = sum(values) / len(values)
    return rank if rank else None


def is_top_electronics_brand(item: Item) -> int:
    """1 when the item's brand is one of the course's top electronics brands, else 0."""
    brand = (item.details or {}).get("Brand")
    return int(isinstance(brand, str) and brand.lower() in TOP_ELECTRONICS_BRANDS)


def _mean(values: list[float], default: float) -> float:
    return sum(values) / len(values) if values else default


class LinearFeatures(PredictorBase):
    """LinearRegression on weight, best-sellers rank, prompt length and top-brand flag."""

    requires_fit = True
    name = "linear_features"

    def __init__(self, fit_intercept: bool = True) -> None:
        self.fit_intercept = fit_intercept

    def features(self, items: Sequence[Item]) -> list[list[float]]:
        """One row of :data:`FEATURE_NAMES` per item, with the fitted defaults filled in."""
        check_fitted(self, "model_")
        return self._rows(items)

    def _rows(self, items: Sequence[Item]) -> list[list[float]]:
        rows = []
        for item in items:
            weight = weight_of(item)
            rank = rank_of(item)
            rows.append(
                [
                    self.default_weight_ if weight is None else weight,
                    self.default_rank_ if rank is None else rank,
                    float(len(item.body)),
                    float(is_top_electronics_brand(item)),
                ]
            )
        return rows

    def fit(self, train_items: Sequence[Item]) -> LinearFeatures:
        from sklearn.linear_model import LinearRegression

        if not train_items:
            raise PricebenchError(
                "linear_features needs training items to fit; check data.train_path (or data.path)"
            )
        # 2024: the items with details; 2025 rows carry their weight in a column of their own.
        with_details = [item for item in train_items if item.details or item.edition == "2025"]
        if not with_details:
            raise PricebenchError(
                f"linear_features needs items with details (test.jsonl or the course's pickles "
                f"carry them); none of the {len(train_items)} training items has any: point "
                "data.train_path at such a file or choose another predictor"
            )
        weights = [w for w in map(weight_of, with_details) if w is not None]
        ranks = [r for r in map(rank_of, with_details) if r is not None]
        # With no weight (rank) at all the column is constant, so its value does not matter.
        self.default_weight_ = _mean(weights, 0.0)
        self.default_rank_ = _mean(ranks, 0.0)
        self.n_train_ = len(with_details)
        self.model_ = LinearRegression(fit_intercept=self.fit_intercept)
        self.model_.fit(self._rows(with_details), [item.price for item in with_details])
        return self

    def predict(self, items: Sequence[Item]) -> list[Prediction]:
        check_fitted(self, "model_")
        if not items:
            return []
        predicted = self.model_.predict(self._rows(items))
        return [Prediction(max(float(value), 0.0)) for value in predicted]
