"""The course's scoring, exactly, and the registry of metrics that everything else reads.

Per item with truth ``t`` and guess ``g``: ``error = |g - t|``,
``sle = (ln(t + 1) - ln(g + 1))**2``, the 2025 edition's ``mse`` (mean of ``(g - t)**2``) and ``r2``
(sklearn's ``r2_score``), colour green when ``error < 40 or error / t < 0.2``, else
orange when ``error < 80 or error / t < 0.4``, else red. A guess that is NaN, infinite or below
zero is scored as 0 and counted as clipped (a guess of exactly 0 is not clipped).

Each metric is one :class:`Metric` in :data:`METRICS`: a function of the truth and guess arrays
that reduces their last axis (so the same call scores a run and, on ``(n_boot, n)`` resampled
arrays, gives every bootstrap replicate at once), its direction, its display formats and where it
is shown. Scoring, confidence intervals and paired tests, leaderboards, sweeps and W&B iterate
over the registry: adding a metric is one entry here and one test. Which of the CI metrics a run
shows (its leaderboard columns and summary line) follows its edition (:data:`EDITIONS`).
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


def squared_error(truth: np.ndarray, guess: np.ndarray) -> np.ndarray:
    return (guess - truth) ** 2


def r_squared(truth: np.ndarray, guess: np.ndarray) -> Any:
    """The coefficient of determination over the last axis, as ``sklearn.metrics.r2_score``
    defines it: ``1 - sum((t - g)**2) / sum((t - mean(t))**2)``; when every truth is the same
    (the denominator is 0) it is 1.0 if every guess is exact, else 0.0 (sklearn's
    ``force_finite``). With fewer than two items sklearn gives NaN; here the same rule as for equal
    truths applies, so the value is always finite."""
    residual = np.sum((truth - guess) ** 2, axis=-1)
    total = np.sum((truth - np.mean(truth, axis=-1, keepdims=True)) ** 2, axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        defined = 1 - residual / total
    return np.where(total != 0, defined, np.where(residual != 0, 0.0, 1.0))


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
    label: str | None = None  # its name in a summary line (None: its heading); EDITIONS says which
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
        Metric("mse", "mean squared error in squared dollars", False, mean_of(squared_error),
               fmt="{:,.0f}", diff_fmt="{:+,.0f}", header="MSE", label="MSE", ci=True),
        Metric("r2", "coefficient of determination R² (sklearn's r2_score; 1 is perfect)", True,
               r_squared, fmt="{:.1%}", diff_fmt="{:+.1%}", header="R²", label="R²", ci=True),
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

# The course's editions and, for each, the metrics its Tester reports: a run's leaderboard columns
# and its summary line. A run's edition is the "edition" of its metrics.json (missing: 2024).
EDITIONS: dict[str, tuple[str, ...]] = {
    "2024": ("error", "rmsle", "hit_rate"),
    "2025": ("error", "mse", "r2", "hit_rate"),
}
DEFAULT_EDITION = "2024"
COURSE_METRICS = EDITIONS[DEFAULT_EDITION]  # the course's summary line (2024), first in a summary


def edition_of(metrics: Mapping[str, Any]) -> str:
    """The edition of a run from its metrics.json: its ``"edition"`` ("2024" when missing).
    ValueError for a value that is not an edition."""
    value = metrics.get("edition")
    if value is None:
        return DEFAULT_EDITION
    if isinstance(value, str) and value in EDITIONS:
        return value
    raise ValueError(f"{value!r} is not an edition: use one of {', '.join(EDITIONS)}")


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
    course = {name: values[name] for name in COURSE_METRICS}
    others = {name: v for name, v in values.items() if name not in course}
    return {**course, "n": n, **others, "clipped": int(scores.clipped.sum())}


def figures(values: Mapping[str, float], edition: str = DEFAULT_EDITION) -> str:
    """The edition's figures as the course prints them, those of ``values`` that are present:
    ``Error=$79.58 RMSLE=0.59 Hits=52.0%`` (2024), ``Error=$62.51 MSE=8,120 R²=61.3% Hits=...``
    (2025)."""
    shown = [METRICS[name] for name in EDITIONS[edition] if name in values]
    return " ".join(f"{m.label or m.heading}={m.format(values[m.name])}" for m in shown)


def same_figures(reported: Mapping[str, float], measured: Mapping[str, float]) -> bool:
    """Whether the figures ``reported`` holds (of the course's: error, RMSLE, hits, MSE, R²) equal
    ``measured`` to their displayed precision ($0.01, 0.01 RMSLE, 0.1% hits, ...)."""
    names = [name for name in dict.fromkeys(n for e in EDITIONS.values() for n in e)
             if name in reported]  # fmt: skip
    if not names:
        raise ValueError("no figure to compare")
    return all(METRICS[n].format(reported[n]) == METRICS[n].format(measured[n]) for n in names)


def summary_line(title: str, summary: Mapping[str, Any], edition: str = DEFAULT_EDITION) -> str:
    """The course's closing line, e.g. ``Gpt 4O Mini Error=$79.58 RMSLE=0.59 Hits=52.0%``; a
    2025-edition run's shows that edition's figures (error, MSE, R², hits)."""
    return f"{title} {figures(summary, edition)}".strip()
