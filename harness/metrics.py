"""The course's scoring, exactly, and the registry of metrics that everything else reads.

Per item with truth ``t`` and guess ``g``: ``error = |g - t|``,
``sle = (ln(t + 1) - ln(g + 1))**2``, colour green when ``error < 40 or error / t < 0.2``, else
orange when ``error < 80 or error / t < 0.4``, else red. A guess that is NaN, infinite or below
zero is scored as 0 and counted as clipped (a guess of exactly 0 is not clipped).

Each metric is one :class:`Metric` in :data:`METRICS`: a function of the truth and guess arrays
that reduces their last axis (so the same call scores a run and, on ``(n_boot, n)`` resampled
arrays, gives every bootstrap replicate at once), its direction, its display formats and where it
is shown. Scoring, confidence intervals and paired tests, leaderboards, sweeps and W&B iterate
over the registry: adding a metric is one entry here and one test.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
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

# (truth, guess) -> values, element-wise for a per-item function, over the last axis for a metric.
ArrayFunction = Callable[[np.ndarray, np.ndarray], Any]


def absolute_error(truth: np.ndarray, guess: np.ndarray) -> np.ndarray:
    return np.abs(guess - truth)


def signed_error(truth: np.ndarray, guess: np.ndarray) -> np.ndarray:
    return guess - truth


def squared_log_error(truth: np.ndarray, guess: np.ndarray) -> np.ndarray:
    return (np.log(truth + 1) - np.log(guess + 1)) ** 2


def colour_codes(error: Any, truth: Any) -> np.ndarray:
    """Per item 0 (green), 1 (orange) or 2 (red): the course's rule, indices into COLOURS."""
    error, truth = np.asarray(error, dtype=float), np.asarray(truth, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = error / truth
    return np.where((error < 40) | (share < 0.2), 0, np.where((error < 80) | (share < 0.4), 1, 2))


def colour_for(error: float, truth: float) -> str:
    return COLOURS[int(colour_codes(error, truth))]


def is_hit(truth: np.ndarray, guess: np.ndarray) -> np.ndarray:
    """Per item: green (a hit)."""
    return colour_codes(absolute_error(truth, guess), truth) == 0


def mean_of(per_item: ArrayFunction) -> ArrayFunction:
    """A metric from a per-item function: its mean over the items."""

    def mean(truth: np.ndarray, guess: np.ndarray) -> Any:
        return np.mean(per_item(truth, guess), axis=-1)

    return mean


def share_coloured(code: int) -> ArrayFunction:
    """A metric: the share of items of colour ``COLOURS[code]``."""
    return mean_of(lambda truth, guess: colour_codes(absolute_error(truth, guess), truth) == code)


def root_mean_squared_log_error(truth: np.ndarray, guess: np.ndarray) -> Any:
    return np.sqrt(np.mean(squared_log_error(truth, guess), axis=-1))


def median_absolute_error(truth: np.ndarray, guess: np.ndarray) -> Any:
    return np.median(absolute_error(truth, guess), axis=-1)


@dataclass(frozen=True, slots=True)
class Metric:
    """One metric: how it is computed, which way is better, how it is shown and where."""

    name: str
    description: str
    higher_is_better: bool | None  # None: neither way is better (e.g. bias); never ranks runs
    function: ArrayFunction  # (truth, guess) -> the metric over the last axis
    fmt: str = "{:,.2f}"  # one value, as tables and the summary line show it
    diff_fmt: str = "{:+,.2f}"  # a difference between two runs
    header: str = ""  # its column heading ("" for its name)
    label: str | None = None  # its name in the course's summary line (None: not in it)
    ci: bool = False  # a leaderboard column, with a bootstrap CI and a paired difference
    breakdown: bool = False  # shown per price band and per category

    def __call__(
        self, truth: Sequence[float] | np.ndarray, guess: Sequence[float] | np.ndarray
    ) -> float:
        return float(self.function(np.asarray(truth, dtype=float), np.asarray(guess, dtype=float)))

    @property
    def heading(self) -> str:
        return self.header or self.name

    def format(self, value: float) -> str:
        return self.fmt.format(value)

    def sort_key(self, value: float) -> float:
        """Smaller is better: the value itself, or its negation when higher is better."""
        if self.higher_is_better is None:
            raise ValueError(f"{self.name} has no better direction: it cannot rank runs")
        return -value if self.higher_is_better else value


METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("error", "mean absolute error in dollars", False, mean_of(absolute_error),
               fmt="${:,.2f}", diff_fmt="${:+,.2f}", label="Error", ci=True, breakdown=True),
        Metric("rmsle", "root mean squared log error", False, root_mean_squared_log_error,
               diff_fmt="{:+.3f}", header="RMSLE", label="RMSLE", ci=True),
        Metric("hit_rate", "share of green items (error < $40 or < 20% of the truth)", True,
               mean_of(is_hit), fmt="{:.1%}", diff_fmt="{:+.1%}", header="hits", label="Hits",
               ci=True, breakdown=True),
        Metric("median_error", "median absolute error in dollars", False, median_absolute_error,
               fmt="${:,.2f}", diff_fmt="${:+,.2f}", header="median error"),
        Metric("bias", "mean of guess - truth in dollars (above 0: guesses too high)", None,
               mean_of(signed_error), fmt="{:+,.2f}", breakdown=True),
        Metric("share_green", "share of green items (the hit rate)", True, share_coloured(0),
               fmt="{:.1%}", diff_fmt="{:+.1%}", header="green"),
        Metric("share_orange", "share of orange items (error < $80 or < 40% of the truth)", None,
               share_coloured(1), fmt="{:.1%}", diff_fmt="{:+.1%}", header="orange"),
        Metric("share_red", "share of red items (the rest)", False, share_coloured(2),
               fmt="{:.1%}", diff_fmt="{:+.1%}", header="red"),
    )
}  # fmt: skip
RANK_BY = "error"  # the leaderboard's order, and a sweep's best job unless it optimises another
CI_METRICS = tuple(name for name, m in METRICS.items() if m.ci)
BREAKDOWN_METRICS = tuple(name for name, m in METRICS.items() if m.breakdown)


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


def score(truths: Sequence[float] | np.ndarray, guesses: Sequence[float] | np.ndarray) -> Scores:
    """Score every item the course's way."""
    truth = np.asarray(truths, dtype=float)
    guess, clipped = clip_guesses(guesses)
    if truth.shape != guess.shape:
        raise ValueError(f"{truth.size} truths but {guess.size} guesses")
    error = absolute_error(truth, guess)
    colour = tuple(COLOURS[code] for code in colour_codes(error, truth).tolist())
    return Scores(truth, guess, error, squared_log_error(truth, guess), colour, clipped)


def summarise(scores: Scores) -> dict[str, Any]:
    """The run's figures: the course's (those in its summary line), the item count, every other
    metric of the registry, and the number of clipped guesses."""
    n = int(scores.truth.size)
    if n == 0:
        raise ValueError("no items to summarise")
    values = {name: m(scores.truth, scores.guess) for name, m in METRICS.items()}
    course = {name: v for name, v in values.items() if METRICS[name].label}
    others = {name: v for name, v in values.items() if name not in course}
    return {**course, "n": n, **others, "clipped": int(scores.clipped.sum())}


def figures(values: Mapping[str, float]) -> str:
    """The course's figures as it prints them: ``Error=$79.58 RMSLE=0.59 Hits=52.0%``."""
    return " ".join(f"{m.label}={m.format(values[m.name])}" for m in METRICS.values() if m.label)


def same_figures(reported: Mapping[str, float], measured: Mapping[str, float]) -> bool:
    """Whether two sets of the course's figures are equal to their displayed precision
    ($0.01, 0.01 RMSLE, 0.1% hits)."""
    return all(
        m.format(reported[m.name]) == m.format(measured[m.name])
        for m in METRICS.values()
        if m.label
    )


def summary_line(title: str, summary: Mapping[str, Any]) -> str:
    """The course's closing line, e.g. ``Gpt 4O Mini Error=$79.58 RMSLE=0.59 Hits=52.0%``."""
    return f"{title} {figures(summary)}".strip()
