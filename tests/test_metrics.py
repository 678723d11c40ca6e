"""The course's scoring, exactly: per-item rules, summaries and the published lines."""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest

from harness.data import load_dataset
from harness.metrics import (
    CI_METRICS,
    EDITIONS,
    METRICS,
    RANK_BY,
    colour_for,
    score,
    summarise,
    summary_line,
)
from harness.published import PUBLISHED
from tests.conftest import REFERENCE_DIR, reported, reported_line

RECORDED = sorted(p.predictor for p in PUBLISHED if p.recording)  # known without the data


@pytest.mark.parametrize(
    ("error", "truth", "colour"),
    [
        (39.99, 10.0, "green"),  # under $40 whatever the share
        (40.0, 1000.0, "green"),  # 4% of the truth
        (40.0, 200.0, "orange"),  # exactly 20%: not under it
        (79.99, 100.0, "orange"),
        (80.0, 250.0, "orange"),  # 32%
        (80.0, 200.0, "red"),  # exactly 40%
        (500.0, 100.0, "red"),
    ],
)
def test_colour_boundaries(error: float, truth: float, colour: str) -> None:
    assert colour_for(error, truth) == colour


def test_per_item_error_and_sle() -> None:
    scores = score([374.41], [120.0])
    assert scores.error[0] == pytest.approx(254.41)
    assert scores.sle[0] == pytest.approx((math.log(375.41) - math.log(121.0)) ** 2)
    assert f"{scores.sle[0]:.2f}" == "1.28"  # the course's first line of the README example
    assert scores.colour == ("red",)


def test_nan_and_negative_guesses_are_scored_as_zero_and_counted() -> None:
    scores = score([10.0, 10.0, 10.0, 10.0], [float("nan"), -5.0, 10.0, float("inf")])
    assert scores.guess.tolist() == [0.0, 0.0, 10.0, 0.0]
    summary = summarise(scores)
    assert summary["clipped"] == 3
    assert summary["error"] == pytest.approx(7.5)


def test_a_guess_of_exactly_zero_is_scored_but_not_clipped() -> None:
    scores = score([10.0, 10.0, 10.0], [0.0, -0.0, -1e-9])
    assert scores.clipped.tolist() == [False, False, True]
    assert scores.guess.tolist() == [0.0, 0.0, 0.0]
    assert summarise(scores)["clipped"] == 1


def test_summary_figures() -> None:
    summary = summarise(score([100.0, 100.0, 100.0, 100.0], [100.0, 150.0, 190.0, 300.0]))
    assert summary["n"] == 4
    assert summary["error"] == pytest.approx((0 + 50 + 90 + 200) / 4)
    assert summary["median_error"] == pytest.approx(70.0)
    assert summary["bias"] == pytest.approx(85.0)
    assert summary["hit_rate"] == 0.25
    assert (summary["share_green"], summary["share_orange"], summary["share_red"]) == (
        0.25,
        0.25,
        0.5,
    )


def test_metrics_declare_direction() -> None:
    assert METRICS["hit_rate"].higher_is_better
    assert METRICS["error"].higher_is_better is False
    assert METRICS["rmsle"].higher_is_better is False
    assert METRICS["bias"].higher_is_better is None
    assert METRICS["hit_rate"].sort_key(0.5) < METRICS["hit_rate"].sort_key(0.4)
    assert METRICS["error"].sort_key(40.0) < METRICS["error"].sort_key(50.0)
    with pytest.raises(ValueError, match="bias has no better direction"):
        METRICS["bias"].sort_key(1.0)
    assert RANK_BY in METRICS and METRICS[RANK_BY].higher_is_better is not None


def test_the_course_metrics_are_the_ci_metrics_and_the_summary_line() -> None:
    assert CI_METRICS == ("error", "rmsle", "hit_rate", "mse", "r2")
    assert EDITIONS == {"2024": ("error", "rmsle", "hit_rate"),
                        "2025": ("error", "mse", "r2", "hit_rate")}  # fmt: skip
    assert set(CI_METRICS) == {name for names in EDITIONS.values() for name in names}
    labels = [METRICS[name].label for name in EDITIONS["2024"]]
    assert labels == ["Error", "RMSLE", "Hits"]


@pytest.mark.parametrize("name", list(METRICS))
def test_every_metric_scores_a_run_and_a_batch_of_resamples_alike(name: str) -> None:
    """The contract the bootstrap relies on: a metric reduces the last axis only."""
    rng = np.random.default_rng(7)
    truth = rng.uniform(1, 900, size=(6, 40))
    guess = np.where(rng.random((6, 40)) < 0.3, truth, rng.uniform(0, 1200, size=(6, 40)))
    metric = METRICS[name]
    batch = np.asarray(metric.function(truth, guess))
    assert batch.shape == (6,)
    assert batch.tolist() == [metric(t, g) for t, g in zip(truth, guess, strict=True)]
    assert isinstance(metric(truth[0], guess[0]), float)
    assert metric.format(batch[0]) and metric.diff_fmt.format(-batch[0])
    assert metric.description and metric.heading


def test_summarise_holds_every_metric_with_the_course_figures_first() -> None:
    summary = summarise(score([100.0, 20.0, 300.0], [120.0, float("nan"), 100.0]))
    assert list(summary)[:4] == ["error", "rmsle", "hit_rate", "n"]
    assert list(summary)[-1] == "clipped"
    assert set(summary) == {*METRICS, "n", "clipped"}


def _recorded(name: str) -> list[float]:
    with (REFERENCE_DIR / f"{name}.csv").open(newline="") as f:
        return [float(row["guess"]) for row in csv.DictReader(f)]


@pytest.mark.parametrize("name", RECORDED)
def test_every_recording_scores_exactly_its_published_line(name: str, data_dir) -> None:
    truths = [item.price for item in load_dataset(str(data_dir), need_train=False).test]
    line = summary_line(name, summarise(score(truths, _recorded(name))))
    assert line == f"{name} {reported_line(name)}"


def test_every_published_recording_is_covered(data_dir) -> None:
    recorded = {row["predictor"] for row in reported().values() if row["recorded_guesses"]}
    assert recorded == {p.stem for p in REFERENCE_DIR.glob("*.csv")} == set(RECORDED)
    assert len(RECORDED) == 5


def test_scores_are_vectors_aligned_with_items() -> None:
    scores = score(np.array([1.0, 2.0]), np.array([2.0, 2.0]))
    assert scores.error.tolist() == [1.0, 0.0]
    with pytest.raises(ValueError):
        score([1.0], [1.0, 2.0])
