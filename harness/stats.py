"""Confidence intervals, paired tests and breakdowns for leaderboards (pure functions).

Inputs are a run's per-item records as stored in ``predictions.jsonl`` (dicts with ``index``,
``truth``, ``guess`` and optionally ``category``) or a :class:`harness.metrics.Scores` for bare
arrays. Per-item values are always re-derived from truth and guess with
:func:`harness.metrics.score`, so stored ``error``/``sle``/``colour`` fields cannot drift from the
course's scoring. Which metrics get an interval and a paired difference, and how each is computed,
is the registry's (:data:`harness.metrics.CI_METRICS`); the bootstrap evaluates each metric's
function once on a whole block of resampled (truth, guess) rows. scipy is imported only where the
Wilcoxon and McNemar tests run, so a breakdown or an interval does not pay for it.

Bootstrap resamples come from ``np.random.default_rng(seed)`` drawn in fixed-size blocks, so the
same inputs, seed and ``n_boot`` give identical numbers in every call and every process (for a
given numpy version: numpy does not promise the Generator stream across releases).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from harness.metrics import (
    CI_METRICS,
    METRICS,
    PRICE_BANDS,
    Scores,
    absolute_error,
    is_hit,
    score,
)

__all__ = [
    "CI_METRICS",
    "SEED",
    "Interval",
    "PairedComparison",
    "breakdown",
    "holm",
    "mcnemar_p",
    "metric_cis",
    "paired_comparison",
    "wilcoxon_p",
]

SEED = 20241126
# Bootstrap index rows are drawn this many elements at a time to bound memory; a constant so the
# random stream (and so every interval) does not depend on anything but the inputs and the seed.
_BLOCK_ELEMENTS = 1 << 22

Records = Sequence[Mapping[str, Any]] | Scores
_Pair = tuple[np.ndarray, np.ndarray]  # one run's (truth, guess) on the items compared


@dataclass(frozen=True, slots=True)
class Interval:
    """A point estimate (the full-sample value) and its confidence interval."""

    point: float
    low: float
    high: float

    @property
    def width(self) -> float:
        return self.high - self.low


@dataclass(frozen=True, slots=True)
class _Run:
    index: np.ndarray
    scores: Scores
    category: tuple[str, ...]


def _run(records: Records) -> _Run:
    if isinstance(records, Scores):
        n = records.truth.size
        return _Run(np.arange(n), records, ("unknown",) * n)
    index = np.array([int(r.get("index", i)) for i, r in enumerate(records)], dtype=int)
    truth = [float(r["truth"]) for r in records]
    guess = [float(r["guess"]) for r in records]
    category = tuple(str(r.get("category") or "unknown") for r in records)
    return _Run(index, score(truth, guess), category)


def _check(n: int, n_boot: int, level: float) -> None:
    if n == 0:
        raise ValueError("no items: a confidence interval needs at least one scored item")
    if n_boot < 1:
        raise ValueError(f"n_boot must be at least 1, not {n_boot}")
    if not 0 < level < 1:
        raise ValueError(f"level must be between 0 and 1 (e.g. 0.95), not {level}")


def _resample_stats(pairs: Sequence[_Pair], n_boot: int, seed: int) -> dict[str, np.ndarray]:
    """Bootstrap replicates of each metric in CI_METRICS for each run's (truth, guess).

    Every run is resampled with the same index rows, so replicates of different runs are paired.
    Returns, per metric, an array of shape (len(pairs), n_boot).
    """
    n = pairs[0][0].size
    rng = np.random.default_rng(seed)
    rows = max(1, _BLOCK_ELEMENTS // n)
    out = {name: np.empty((len(pairs), n_boot)) for name in CI_METRICS}
    for start in range(0, n_boot, rows):
        stop = min(n_boot, start + rows)
        idx = rng.integers(0, n, size=(stop - start, n))
        for k, (truth, guess) in enumerate(pairs):
            resampled = truth[idx], guess[idx]
            for name in CI_METRICS:
                out[name][k, start:stop] = METRICS[name].function(*resampled)
    return out


def _point(pair: _Pair) -> dict[str, float]:
    return {name: METRICS[name](*pair) for name in CI_METRICS}


def _interval(point: float, replicates: np.ndarray, level: float) -> Interval:
    tail = (1 - level) / 2
    low, high = np.quantile(replicates, [tail, 1 - tail])
    # A percentile interval can miss the point when the replicates are degenerate or skewed.
    return Interval(point, min(float(low), point), max(float(high), point))


def metric_cis(
    records: Records, n_boot: int = 2000, level: float = 0.95, seed: int = SEED
) -> dict[str, Interval]:
    """Bootstrap percentile intervals for each metric in CI_METRICS over a run's items.

    Items are resampled with replacement ``n_boot`` times; each interval's point is the
    full-sample value (as in the course's table) and the interval always contains it.
    """
    run = _run(records)
    _check(run.index.size, n_boot, level)
    pair = (run.scores.truth, run.scores.guess)
    points = _point(pair)
    reps = _resample_stats([pair], n_boot, seed)
    return {name: _interval(points[name], reps[name][0], level) for name in CI_METRICS}


@dataclass(frozen=True, slots=True)
class PairedComparison:
    """Run A against run B on the items both scored."""

    n: int
    diff: dict[str, Interval]
    wilcoxon_p: float
    mcnemar_p: float
    a_only_hits: int
    b_only_hits: int

    @property
    def p_values(self) -> tuple[float, float]:
        """The two tests' p-values: Wilcoxon's, McNemar's."""
        return self.wilcoxon_p, self.mcnemar_p

    def significant(self, alpha: float = 0.05) -> bool:
        """Whether either test rejects "no difference" at ``alpha`` once the two are
        Holm-corrected (:func:`holm`)."""
        return min(holm(self.p_values)) < alpha


def _aligned(a: _Run, b: _Run) -> tuple[np.ndarray, np.ndarray]:
    """Positions in A and in B of the shared items, in ascending index order."""
    for name, run in (("A", a), ("B", b)):
        uniq, counts = np.unique(run.index, return_counts=True)
        if (counts > 1).any():
            raise ValueError(f"run {name} has item index {int(uniq[counts > 1][0])} more than once")
    shared, pos_a, pos_b = np.intersect1d(a.index, b.index, assume_unique=True, return_indices=True)
    if shared.size == 0:
        raise ValueError("the two runs share no item index: they cannot be compared item by item")
    truth_a, truth_b = a.scores.truth[pos_a], b.scores.truth[pos_b]
    differ = ~np.isclose(truth_a, truth_b, rtol=1e-9, atol=1e-6)
    if differ.any():
        k = int(np.argmax(differ))
        raise ValueError(
            f"the runs disagree on the true price of {int(differ.sum())} shared item(s) (first: "
            f"index {int(shared[k])}, {truth_a[k]} vs {truth_b[k]}): they were scored on different "
            "test sets; compare only runs on the same data"
        )
    return pos_a, pos_b


def wilcoxon_p(error_a: np.ndarray, error_b: np.ndarray) -> float:
    from scipy import stats as sps

    if not np.any(error_a != error_b):
        return 1.0  # scipy divides by zero here
    return float(sps.wilcoxon(error_a, error_b, alternative="two-sided").pvalue)


def mcnemar_p(b: int, c: int) -> float:
    from scipy import stats as sps

    if b + c == 0:
        return 1.0
    return min(1.0, float(sps.binomtest(min(b, c), b + c, 0.5).pvalue))


def paired_comparison(
    a_records: Records,
    b_records: Records,
    n_boot: int = 2000,
    level: float = 0.95,
    seed: int = SEED,
) -> PairedComparison:
    """Compare run A with run B on their shared items (joined by ``index``).

    ``diff`` holds metric(A) - metric(B) for each metric in CI_METRICS, with paired bootstrap
    intervals (both runs resampled on the same items); ``wilcoxon_p`` is the two-sided signed-rank
    test on per-item absolute errors (items with equal errors dropped, scipy's default);
    ``mcnemar_p`` is McNemar's exact test on hits. Raises ValueError when the runs share no item
    or disagree on a shared item's truth.
    """
    a, b = _run(a_records), _run(b_records)
    pos_a, pos_b = _aligned(a, b)
    _check(pos_a.size, n_boot, level)
    pair_a = (a.scores.truth[pos_a], a.scores.guess[pos_a])
    pair_b = (b.scores.truth[pos_b], b.scores.guess[pos_b])
    reps = _resample_stats([pair_a, pair_b], n_boot, seed)
    point_a, point_b = _point(pair_a), _point(pair_b)
    diff = {
        name: _interval(point_a[name] - point_b[name], reps[name][0] - reps[name][1], level)
        for name in CI_METRICS
    }
    hit_a, hit_b = is_hit(*pair_a), is_hit(*pair_b)
    a_only, b_only = int(np.sum(hit_a & ~hit_b)), int(np.sum(~hit_a & hit_b))
    return PairedComparison(
        n=int(pos_a.size),
        diff=diff,
        wilcoxon_p=wilcoxon_p(absolute_error(*pair_a), absolute_error(*pair_b)),
        mcnemar_p=mcnemar_p(a_only, b_only),
        a_only_hits=a_only,
        b_only_hits=b_only,
    )


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values, in the order given: the i-th smallest of m p-values is
    multiplied by m - i + 1 (i from 1), capped at 1, and made non-decreasing in that order.
    Rejecting where the adjusted value is below alpha keeps the family-wise error rate at alpha
    (Holm 1979). Raises ValueError for a value that is not a p-value (NaN, below 0, above 1)."""
    values = [float(p) for p in p_values]
    if not all(0.0 <= p <= 1.0 for p in values):  # NaN fails both comparisons
        raise ValueError(f"p-values must be between 0 and 1, not {values}")
    m = len(values)
    adjusted = [0.0] * m
    running = 0.0
    for rank, i in enumerate(sorted(range(m), key=values.__getitem__)):
        running = max(running, min(1.0, (m - rank) * values[i]))
        adjusted[i] = running
    return adjusted


def breakdown(records: Records, by: str = "band") -> list[dict[str, Any]]:
    """Per group: its name (``group``), item count (``n``) and every metric of the registry;
    empty groups are left out.

    ``by="band"``: the bands of true price in ``harness.metrics.PRICE_BANDS``, in band order.
    ``by="category"``: each ``category`` value (missing: ``"unknown"``), most items first.
    """
    run = _run(records)
    truth, guess = run.scores.truth, run.scores.guess
    if by == "band":
        masks = [(label, (truth >= low) & (truth < high)) for label, low, high in PRICE_BANDS]
    elif by == "category":
        names = np.array(run.category, dtype=object)
        masks = [(str(c), names == c) for c in sorted(set(run.category))]
        masks.sort(key=lambda pair: -int(pair[1].sum()))  # stable: ties stay alphabetical
    else:
        raise ValueError(f"breakdown by {by!r} is not supported: use by='band' or by='category'")
    return [
        {"group": group, "n": int(mask.sum())}
        | {name: m(truth[mask], guess[mask]) for name, m in METRICS.items()}
        for group, mask in masks
        if mask.any()
    ]
