"""The course's scoring, exactly, as small pure functions over arrays.

Per item with truth ``t`` and guess ``g``: ``error = |g - t|``,
``sle = (ln(t + 1) - ln(g + 1))**2``, colour green when ``error < 40 or error / t < 0.2``, else
orange when ``error < 80 or error / t < 0.4``, else red. A guess that is NaN, infinite or below
zero is scored as 0 and counted as clipped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

COLOURS = ("green", "orange", "red")
# Price bands for breakdowns: (label, lower bound inclusive, upper bound exclusive).
PRICE_BANDS = (
    ("<$50", 0.0, 50.0),
    ("$50-100", 50.0, 100.0),
    ("$100-250", 100.0, 250.0),
    ("$250-500", 250.0, 500.0),
    (">=$500", 500.0, float("inf")),
)


@dataclass(frozen=True, slots=True)
class Metric:
    name: str
    higher_is_better: bool
    description: str


METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("error", False, "mean absolute error in dollars"),
        Metric("rmsle", False, "root mean squared log error"),
        Metric("hit_rate", True, "share of green items (error < $40 or < 20% of the truth)"),
        Metric("median_error", False, "median absolute error in dollars"),
    )
}


@dataclass(frozen=True, slots=True)
class Scores:
    """Per-item scores, aligned with the items."""

    truth: np.ndarray
    guess: np.ndarray
    error: np.ndarray
    sle: np.ndarray
    colour: tuple[str, ...]
    clipped: np.ndarray


def clip_guesses(guesses: Sequence[float] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Guesses as scored (NaN, infinite or negative become 0) and a mask of those changed."""
    raw = np.asarray(guesses, dtype=float)
    bad = ~np.isfinite(raw) | (raw < 0)
    return np.where(bad, 0.0, raw), bad


def colour_for(error: float, truth: float) -> str:
    if error < 40 or error / truth < 0.2:
        return "green"
    if error < 80 or error / truth < 0.4:
        return "orange"
    return "red"


def score(truths: Sequence[float] | np.ndarray, guesses: Sequence[float] | np.ndarray) -> Scores:
    """Score every item the course's way."""
    truth = np.asarray(truths, dtype=float)
    guess, clipped = clip_guesses(guesses)
    if truth.shape != guess.shape:
        raise ValueError(f"{truth.size} truths but {guess.size} guesses")
    error = np.abs(guess - truth)
    sle = (np.log(truth + 1) - np.log(guess + 1)) ** 2
    colour = tuple(colour_for(e, t) for e, t in zip(error.tolist(), truth.tolist(), strict=True))
    return Scores(truth, guess, error, sle, colour, clipped)


def summarise(scores: Scores) -> dict[str, Any]:
    """The run's figures: the course's three plus median error, bias, colour shares, clip count."""
    n = int(scores.truth.size)
    if n == 0:
        raise ValueError("no items to summarise")
    summary: dict[str, Any] = {
        "error": float(np.mean(scores.error)),
        "rmsle": float(np.sqrt(np.mean(scores.sle))),
        "hit_rate": scores.colour.count("green") / n,
        "n": n,
        "median_error": float(np.median(scores.error)),
        "bias": float(np.mean(scores.guess - scores.truth)),
    }
    for colour in COLOURS:
        summary[f"share_{colour}"] = scores.colour.count(colour) / n
    summary["clipped"] = int(scores.clipped.sum())
    return summary


def summary_line(title: str, summary: dict[str, Any]) -> str:
    """The course's closing line, e.g. ``Gpt 4O Mini Error=$79.58 RMSLE=0.59 Hits=52.0%``."""
    return (
        f"{title} Error=${summary['error']:,.2f} RMSLE={summary['rmsle']:,.2f} "
        f"Hits={summary['hit_rate'] * 100:.1f}%"
    ).strip()


def by_price_band(scores: Scores) -> list[dict[str, Any]]:
    """Mean error, hit rate and item count for each band of true price (empty bands left out)."""
    rows = []
    green = np.array([c == "green" for c in scores.colour], dtype=bool)
    for label, low, high in PRICE_BANDS:
        mask = (scores.truth >= low) & (scores.truth < high)
        if mask.any():
            rows.append(
                {
                    "band": label,
                    "n": int(mask.sum()),
                    "error": float(np.mean(scores.error[mask])),
                    "hit_rate": float(np.mean(green[mask])),
                    "bias": float(np.mean(scores.guess[mask] - scores.truth[mask])),
                }
            )
    return rows
