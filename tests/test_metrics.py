"""The course's scoring, exactly: per-item rules, summaries and the published lines."""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest

from harness.data import load_dataset
from harness.metrics import METRICS, colour_for, score, summarise, summary_line
from tests.conftest import REFERENCE_DIR, reported, reported_line


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
    assert not METRICS["error"].higher_is_better
    assert not METRICS["rmsle"].higher_is_better


def _recorded(name: str) -> list[float]:
    with (REFERENCE_DIR / f"{name}.csv").open(newline="") as f:
        return [float(row["guess"]) for row in csv.DictReader(f)]


@pytest.mark.parametrize("name", sorted(p.stem for p in REFERENCE_DIR.glob("*.csv")))
def test_every_recording_scores_exactly_its_published_line(name: str, data_dir) -> None:
    truths = [item.price for item in load_dataset(str(data_dir), need_train=False).test]
    line = summary_line(name, summarise(score(truths, _recorded(name))))
    assert line == f"{name} {reported_line(name)}"


def test_every_published_recording_is_covered() -> None:
    recorded = {row["predictor"] for row in reported().values() if row["recorded_guesses"]}
    assert recorded == {p.stem for p in REFERENCE_DIR.glob("*.csv")}


def test_scores_are_vectors_aligned_with_items() -> None:
    scores = score(np.array([1.0, 2.0]), np.array([2.0, 2.0]))
    assert scores.error.tolist() == [1.0, 0.0]
    with pytest.raises(ValueError):
        score([1.0], [1.0, 2.0])
