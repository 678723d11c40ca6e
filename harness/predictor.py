"""The contract every predictor follows (after scikit-learn's estimator rules).

``__init__`` only stores hyperparameters; ``fit(train_items)`` learns (state ends in ``_``) and
returns ``self``; ``predict(items)`` returns one :class:`Prediction` per item, in order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from harness.data import Item


@dataclass(slots=True)
class Prediction:
    """A guess for one item, with what the model said and what it cost, where known."""

    guess: float
    raw: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    cost: float | None = None
    latency: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class Predictor(Protocol):
    def fit(self, train_items: Sequence[Item]) -> Predictor: ...

    def predict(self, items: Sequence[Item]) -> list[Prediction]: ...
