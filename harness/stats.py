"""Confidence intervals, paired tests and breakdowns for leaderboards (pure functions).

Inputs are a run's per-item records as stored in ``predictions.jsonl`` (dicts with ``index``,
``truth``, ``guess`` and optionally ``category``) or a :class:`harness.metrics.Scores` for bare
arrays. Per-item values are always re-derived from truth and guess with
:func:`harness.metrics.score`, so stored ``error``/``sle``/``colour`` fields cannot drift from the
course's scoring.

Bootstrap resamples come from ``np.random.default_rng(seed)`` drawn in fixed-size blocks, so the
same inputs, seed and ``n_boot`` give identical numbers in every call and every process (for a
given numpy version: numpy does not promise the Generator stream across releases).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats as sps

from harness.metrics import PRICE_BANDS, Scores, score

__all__ = [
    "CI_METRICS",
    "SEED",
    "Interval",
    "PairedComparison",
    "breakdown",
    "metric_cis",
    "paired_comparison",
]

SEED = 20241126
CI_METRICS = ("error", "rmsle", "hit_rate")
# Bootstrap index rows are drawn this many elements at a time to bound memory; a constant so the
# random stream (and so every interval) does not depend on anything but the inputs and the seed.
_BLOCK_ELEMENTS = 1 << 22

Records = Sequence[Mapping[str, Any]] | Scores


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

    @property
    def green(self) -> np.ndarray:
        return np.array([c == "green" for c in self.scores.colour], dtype=bool)


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


def _resample_stats(
    columns: list[tuple[np.ndarray, np.ndarray]], n_boot: int, seed: int
) -> dict[str, np.ndarray]:
    """Bootstrap replicates of each metric; ``columns`` are per-run (error, sle, green) triples.

    Every run is resampled with the same index rows, so replicates of different runs are paired.
    Returns, per metric, an array of shape (len(columns), n_boot).
    """
    n = columns[0][0].size
    rng = np.random.default_rng(seed)
    rows = max(1, _BLOCK_ELEMENTS // n)
    out = {name: np.empty((len(columns), n_boot)) for name in CI_METRICS}
    for start in range(0, n_boot, rows):
        stop = min(n_boot, start + rows)
        idx = rng.integers(0, n, size=(stop - start, n))
        for k, (error, sle, green) in enumerate(columns):
            out["error"][k, start:stop] = error[idx].mean(axis=1)
            out["rmsle"][k, start:stop] = np.sqrt(sle[idx].mean(axis=1))
            out["hit_rate"][k, start:stop] = green[idx].mean(axis=1)
    return out


def _point(error: np.ndarray, sle: np.ndarray, green: np.ndarray) -> dict[str, float]:
    return {
        "error": float(np.mean(error)),
        "rmsle": float(np.sqrt(np.mean(sle))),
        "hit_rate": float(np.mean(green)),
    }


def _interval(point: float, replicates: np.ndarray, level: float) -> Interval:
    tail = (1 - level) / 2
    low, high = np.quantile(replicates, [tail, 1 - tail])
    # A percentile interval can miss the point when the replicates are degenerate or skewed.
    return Interval(point, min(float(low), point), max(float(high), point))


def metric_cis(
    records: Records, n_boot: int = 2000, level: float = 0.95, seed: int = SEED
) -> dict[str, Interval]:
    """Bootstrap percentile intervals for error, rmsle and hit_rate over a run's items.

    Items are resampled with replacement ``n_boot`` times; each interval's point is the
    full-sample value (as in the course's table) and the interval always contains it.
    """
    run = _run(records)
    _check(run.index.size, n_boot, level)
    s, green = run.scores, run.green.astype(float)
    points = _point(s.error, s.sle, green)
    reps = _resample_stats([(s.error, s.sle, green)], n_boot, seed)
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

    def significant(self, alpha: float = 0.05) -> bool:
        """Whether either test rejects "no difference" at ``alpha`` (no multiplicity correction)."""
        return self.wilcoxon_p < alpha or self.mcnemar_p < alpha


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


def _wilcoxon_p(error_a: np.ndarray, error_b: np.ndarray) -> float:
    if not np.any(error_a != error_b):
        return 1.0  # scipy divides by zero here
    return float(sps.wilcoxon(error_a, error_b, alternative="two-sided").pvalue)


def _mcnemar_p(b: int, c: int) -> float:
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

    ``diff`` holds metric(A) - metric(B) with paired bootstrap intervals (both runs resampled on
    the same items); ``wilcoxon_p`` is the two-sided signed-rank test on per-item absolute errors
    (items with equal errors dropped, scipy's default); ``mcnemar_p`` is McNemar's exact test on
    hits. Raises ValueError when the runs share no item or disagree on a shared item's truth.
    """
    a, b = _run(a_records), _run(b_records)
    pos_a, pos_b = _aligned(a, b)
    _check(pos_a.size, n_boot, level)
    cols = []
    for run, pos in ((a, pos_a), (b, pos_b)):
        cols.append((run.scores.error[pos], run.scores.sle[pos], run.green[pos].astype(float)))
    reps = _resample_stats(cols, n_boot, seed)
    point_a, point_b = _point(*cols[0]), _point(*cols[1])
    diff = {
        name: _interval(point_a[name] - point_b[name], reps[name][0] - reps[name][1], level)
        for name in CI_METRICS
    }
    hit_a, hit_b = cols[0][2] > 0, cols[1][2] > 0
    a_only, b_only = int(np.sum(hit_a & ~hit_b)), int(np.sum(~hit_a & hit_b))
    return PairedComparison(
        n=int(pos_a.size),
        diff=diff,
        wilcoxon_p=_wilcoxon_p(cols[0][0], cols[1][0]),
        mcnemar_p=_mcnemar_p(a_only, b_only),
        a_only_hits=a_only,
        b_only_hits=b_only,
    )


def _row(group: str, s: Scores, green: np.ndarray, mask: np.ndarray) -> dict[str, Any]:
    return {
        "group": group,
        "n": int(mask.sum()),
        "error": float(np.mean(s.error[mask])),
        "hit_rate": float(np.mean(green[mask])),
        "bias": float(np.mean(s.guess[mask] - s.truth[mask])),
        "rmsle": float(np.sqrt(np.mean(s.sle[mask]))),
    }


def breakdown(records: Records, by: str = "band") -> list[dict[str, Any]]:
    """Per-group error, hit rate, bias (mean guess - truth) and rmsle; empty groups left out.

    ``by="band"``: the bands of true price in ``harness.metrics.PRICE_BANDS``, in band order.
    ``by="category"``: each ``category`` value (missing: ``"unknown"``), most items first.
    """
    run = _run(records)
    s, green = run.scores, run.green
    if by == "band":
        masks = [(label, (s.truth >= low) & (s.truth < high)) for label, low, high in PRICE_BANDS]
    elif by == "category":
        names = np.array(run.category, dtype=object)
        masks = [(str(c), names == c) for c in sorted(set(run.category))]
        masks.sort(key=lambda pair: -int(pair[1].sum()))  # stable: ties stay alphabetical
    else:
        raise ValueError(f"breakdown by {by!r} is not supported: use by='band' or by='category'")
    return [_row(group, s, green, mask) for group, mask in masks if mask.any()]
