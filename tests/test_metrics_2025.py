"""The 2025 edition's metrics, MSE and R², in the registry: exact values, sklearn's definitions,
the course's recordings, and the edition of a run."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from sklearn.metrics import mean_squared_error, r2_score

from harness.data import load_dataset
from harness.metrics import (
    CI_METRICS,
    DEFAULT_EDITION,
    EDITIONS,
    METRICS,
    edition_of,
    figures,
    same_figures,
    score,
    summarise,
    summary_line,
)
from harness.published import PUBLISHED
from tests.conftest import REFERENCE_DIR, reported_line

RECORDED = sorted(p.predictor for p in PUBLISHED if p.recording)


def test_mse_and_r2_of_a_small_example_exactly() -> None:
    truth, guess = [100.0, 200.0, 300.0, 400.0], [110.0, 190.0, 330.0, 400.0]
    # squared errors 100, 100, 900, 0; mean truth 250, total sum of squares 50,000
    assert METRICS["mse"](truth, guess) == 275.0
    assert METRICS["r2"](truth, guess) == 1 - 1100 / 50000
    assert METRICS["r2"](truth, guess) == pytest.approx(0.978, abs=1e-15)


def test_a_constant_guess_at_the_mean_has_r2_zero_and_below_it_negative() -> None:
    truth = [10.0, 20.0, 30.0, 40.0]  # mean 25, total sum of squares 500
    assert METRICS["r2"](truth, [25.0] * 4) == 0.0
    assert METRICS["mse"](truth, [25.0] * 4) == 125.0
    assert METRICS["r2"](truth, [120.0] * 4) == 1 - (110**2 + 100**2 + 90**2 + 80**2) / 500
    assert METRICS["r2"](truth, truth) == 1.0


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_mse_and_r2_are_sklearns(seed: int) -> None:
    rng = np.random.default_rng(seed)
    truth = rng.uniform(1, 900, 200)
    guess = rng.uniform(0, 1200, 200)
    assert METRICS["mse"](truth, guess) == pytest.approx(mean_squared_error(truth, guess), 1e-12)
    assert METRICS["r2"](truth, guess) == pytest.approx(r2_score(truth, guess), rel=1e-12)


@pytest.mark.parametrize(
    ("truth", "guess"),
    [([50.0, 50.0, 50.0], [50.0, 50.0, 50.0]), ([50.0, 50.0, 50.0], [40.0, 50.0, 60.0])],
)
def test_equal_truths_give_sklearns_finite_r2(truth: list[float], guess: list[float]) -> None:
    """sklearn's force_finite: 1.0 when every guess is exact, else 0.0 (never NaN or -inf)."""
    assert METRICS["r2"](truth, guess) == r2_score(truth, guess)


def test_r2_of_one_item_is_finite() -> None:
    """sklearn gives NaN under two items; a run of one item still stores a finite R²."""
    assert METRICS["r2"]([10.0], [10.0]) == 1.0
    assert METRICS["r2"]([10.0], [12.0]) == 0.0


def test_a_batch_of_resamples_with_equal_truths_in_some_rows() -> None:
    truth = np.array([[5.0, 5.0, 5.0], [1.0, 2.0, 3.0], [7.0, 7.0, 7.0]])
    guess = np.array([[5.0, 5.0, 5.0], [1.0, 2.0, 4.0], [6.0, 7.0, 7.0]])
    assert METRICS["r2"].function(truth, guess).tolist() == [1.0, 0.5, 0.0]


def test_mse_and_r2_are_leaderboard_metrics_in_the_2025_edition_only() -> None:
    assert {"mse", "r2"} <= set(CI_METRICS)
    assert EDITIONS["2025"] == ("error", "mse", "r2", "hit_rate")
    assert "mse" not in EDITIONS["2024"] and "r2" not in EDITIONS["2024"]
    assert METRICS["mse"].higher_is_better is False and METRICS["r2"].higher_is_better is True
    assert (METRICS["mse"].heading, METRICS["r2"].heading) == ("MSE", "R²")


def test_every_summary_holds_mse_and_r2_and_the_2024_line_is_unchanged() -> None:
    summary = summarise(score([100.0, 200.0, 300.0, 400.0], [110.0, 190.0, 330.0, 400.0]))
    assert summary["mse"] == 275.0 and summary["r2"] == 1 - 1100 / 50000
    assert list(summary)[:4] == ["error", "rmsle", "hit_rate", "n"]
    assert summary_line("p", summary) == "p Error=$12.50 RMSLE=0.07 Hits=100.0%"
    assert summary_line("p", summary, "2025") == "p Error=$12.50 MSE=275 R²=97.8% Hits=100.0%"
    assert figures({"error": 62.51}, "2025") == "Error=$62.51"


def test_a_2025_row_is_matched_on_its_error_only() -> None:
    assert same_figures({"error": 62.51}, {"error": 62.514, "mse": 1.0, "rmsle": 9.0})
    assert not same_figures({"error": 62.51}, {"error": 62.516})
    with pytest.raises(ValueError, match="no figure"):
        same_figures({}, {"error": 1.0})


@pytest.mark.parametrize(
    ("metrics", "edition"),
    [({}, "2024"), ({"edition": None}, "2024"), ({"edition": "2024"}, "2024"),
     ({"edition": "2025"}, "2025")],
)  # fmt: skip
def test_the_edition_of_a_run(metrics: dict, edition: str) -> None:
    assert edition_of(metrics) == edition
    assert DEFAULT_EDITION == "2024"


@pytest.mark.parametrize("value", ["2030", 2025, "", ["2025"], True])
def test_a_value_that_is_not_an_edition_is_refused(value: object) -> None:
    with pytest.raises(ValueError, match="is not an edition: use one of 2024, 2025"):
        edition_of({"edition": value})


def _recorded(name: str) -> list[float]:
    with (REFERENCE_DIR / f"{name}.csv").open(newline="") as f:
        return [float(row["guess"]) for row in csv.DictReader(f)]


@pytest.mark.parametrize("name", RECORDED)
def test_the_course_recordings_mse_and_r2_and_their_2024_line(name: str, data_dir) -> None:
    truths = [item.price for item in load_dataset(str(data_dir), need_train=False).test]
    guesses = _recorded(name)
    summary = summarise(score(truths, guesses))
    assert summary["mse"] == pytest.approx(mean_squared_error(truths, guesses), rel=1e-12)
    assert summary["r2"] == pytest.approx(r2_score(truths, guesses), rel=1e-12)
    assert summary_line(name, summary) == f"{name} {reported_line(name)}"  # 2024: unchanged


def test_the_constant_recording_exactly(data_dir) -> None:
    """constant 220.46 on the canonical 250: MSE and R² by hand from the truths."""
    truths = [item.price for item in load_dataset(str(data_dir), need_train=False).test]
    summary = summarise(score(truths, [220.46] * len(truths)))
    mse = sum((220.46 - t) ** 2 for t in truths) / len(truths)
    mean = sum(truths) / len(truths)
    r2 = 1 - sum((t - 220.46) ** 2 for t in truths) / sum((t - mean) ** 2 for t in truths)
    assert summary["mse"] == pytest.approx(mse, rel=1e-12)
    assert summary["r2"] == pytest.approx(r2, rel=1e-12)
    assert f"{summary['mse']:,.0f}" == f"{mse:,.0f}" and r2 < 0
