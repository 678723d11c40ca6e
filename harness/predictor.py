"""The contract every predictor follows (after scikit-learn's estimator rules).

``__init__`` only stores hyperparameters; ``fit(train_items)`` learns (state ends in ``_``) and
returns ``self``; ``predict(items)`` returns one :class:`Prediction` per item, in order. That is
all a predictor must have (:class:`Predictor`). The optional hooks the runner also reads are
declared, with their defaults, on :class:`PredictorBase`; a predictor may subclass it or simply
have the attributes, since the runner reads every hook through the functions below.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from harness.errors import PricebenchError

if TYPE_CHECKING:
    from harness.data import Item

__all__ = [
    "Prediction",
    "Predictor",
    "PredictorBase",
    "StreamingPredictor",
    "check_fitted",
    "label_of",
    "notes_of",
    "requires_fit",
    "run_summary_of",
]


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
    """What every predictor has: ``fit`` (returning ``self``) and ``predict``."""

    def fit(self, train_items: Sequence[Item]) -> Predictor: ...

    def predict(self, items: Sequence[Item]) -> list[Prediction]: ...


@runtime_checkable
class StreamingPredictor(Predictor, Protocol):
    """A predictor that also yields ``(position, Prediction)`` pairs as they complete, in any
    order, so the progress bar moves item by item (``predict`` is then not called)."""

    def predict_iter(self, items: Sequence[Item]) -> Iterator[tuple[int, Prediction]]: ...


class PredictorBase:
    """The optional hooks, with the defaults the runner assumes when a predictor lacks one.

    ``predict_iter`` is not here: having it changes how predictions are collected
    (:class:`StreamingPredictor`)."""

    @property
    def requires_fit(self) -> bool:
        """Whether ``fit`` needs training items (False: none are loaded)."""
        return True

    @property
    def label(self) -> str | None:
        """The run's title when the config gives none (None: the predictor's name)."""
        return None

    def run_summary(self) -> Mapping[str, Any]:
        """Figures about the run itself (requests, cost, ...), stored in ``metrics.json``."""
        return {}

    def notes(self) -> list[str]:
        """Lines a reader of the summary line should know about, printed above it."""
        return []

    def fit(self, train_items: Sequence[Item]) -> PredictorBase:
        return self

    def predict(self, items: Sequence[Item]) -> list[Prediction]:
        raise NotImplementedError


def requires_fit(predictor: object) -> bool:
    return bool(getattr(predictor, "requires_fit", True))


def label_of(predictor: object) -> str | None:
    label = getattr(predictor, "label", None)
    return label if isinstance(label, str) and label else None


def run_summary_of(predictor: object) -> dict[str, Any]:
    hook = getattr(predictor, "run_summary", None)
    return dict(hook()) if callable(hook) else {}


def notes_of(predictor: object) -> list[str]:
    hook = getattr(predictor, "notes", None)
    return [str(note) for note in hook()] if callable(hook) else []


def check_fitted(predictor: object, *attributes: str, name: str | None = None) -> None:
    """Raise the one not-fitted error unless ``predictor`` has every one of ``attributes`` (by
    default: any learned attribute, one ending in ``_``). ``name`` defaults to the predictor's
    ``name`` attribute, else its class name."""
    learned = vars(predictor) if hasattr(predictor, "__dict__") else {}
    if attributes:
        fitted = all(hasattr(predictor, attribute) for attribute in attributes)
    else:
        fitted = any(key.endswith("_") and not key.startswith("__") for key in learned)
    if not fitted:
        name = name or getattr(predictor, "name", None) or type(predictor).__name__
        raise PricebenchError(f"{name} was not fitted: call fit(train_items) first")
