"""harness.stats on the course's recorded runs (reference/*.csv over the fixed 250 test items)."""

from __future__ import annotations

import csv
import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from harness.data import load_dataset
from harness.metrics import EDITIONS, METRICS, PRICE_BANDS, score
from harness.stats import (
    CI_METRICS,
    SEED,
    Interval,
    PairedComparison,
    breakdown,
    holm,
    metric_cis,
    paired_comparison,
)

ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = ROOT.parent / "shared" / "data" / "pricer"
RUNS = ("gpt-4o-mini", "gpt-4o-mini-fine-tuned", "human", "random", "constant")


@pytest.fixture(scope="module")
def truths() -> list[float]:
    if not (DATA_DIR / "test.jsonl").is_file():
        pytest.fail(f"benchmark data not found at {DATA_DIR}: clone the project beside ../shared")
    test = load_dataset(str(DATA_DIR), need_train=False).test
    assert [item.index for item in test] == list(range(250))
    return [item.price for item in test]


def records_for(truths: list[float], name: str) -> list[dict]:
    """A recorded course run as predictions.jsonl records."""
    with (DATA_DIR / "reference" / f"{name}.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["index"]) for r in rows] == list(range(len(truths)))
    s = score(truths, [float(r["guess"]) for r in rows])
    return [
        {
            "index": i,
            "truth": truths[i],
            "guess": float(s.guess[i]),
            "error": float(s.error[i]),
            "sle": float(s.sle[i]),
            "colour": s.colour[i],
        }
        for i in range(len(truths))
    ]


@pytest.fixture(scope="module")
def runs(truths: list[float]) -> dict[str, list[dict]]:
    return {name: records_for(truths, name) for name in RUNS}


def as_tuple(interval: Interval) -> tuple[float, float, float]:
    return dataclasses.astuple(interval)


def reported() -> dict[str, dict[str, str]]:
    with (DATA_DIR / "reported.csv").open(newline="") as f:
        return {row["predictor"]: row for row in csv.DictReader(f)}


@pytest.mark.parametrize("name", RUNS)
def test_points_are_the_course_numbers_and_inside_their_intervals(runs, name):
    cis = metric_cis(runs[name], n_boot=500)
    assert set(cis) == set(CI_METRICS)
    for interval in cis.values():
        assert interval.low <= interval.point <= interval.high
        assert interval.low < interval.high
    row = reported()[name]
    assert round(cis["error"].point, 2) == float(row["error"])
    assert round(cis["rmsle"].point, 2) == float(row["rmsle"])
    assert round(cis["hit_rate"].point * 100, 1) == float(row["hits_pct"])


def test_gpt_4o_mini_point_estimates(runs):
    cis = metric_cis(runs["gpt-4o-mini"])
    assert f"{cis['error'].point:.2f}" == "79.58"
    assert cis["hit_rate"].point == pytest.approx(0.52)


# The intervals of the README's leaderboard table (pricebench-leaderboard's default 1000 resamples).
README_INTERVALS = {
    "gpt-4o-mini": ("$79.58 [$64.82, $96.91]", "0.59 [0.52, 0.65]", "52.0% [45.6%, 58.0%]"),
    "gpt-4o-mini-fine-tuned": (
        "$91.45 [$79.42, $104.17]", "0.68 [0.61, 0.75]", "44.0% [38.4%, 50.0%]",
    ),
    "human": ("$126.55 [$108.01, $143.49]", "1.00 [0.92, 1.09]", "32.0% [26.4%, 38.0%]"),
    "constant": ("$145.51 [$131.39, $161.40]", "1.22 [1.07, 1.35]", "16.8% [12.4%, 21.2%]"),
    "random": ("$340.74 [$309.35, $371.71]", "1.72 [1.54, 1.90]", "11.6% [8.0%, 15.6%]"),
}  # fmt: skip


@pytest.mark.parametrize("name", RUNS)
def test_the_readme_intervals_exactly(runs, name):
    cis = metric_cis(runs[name], n_boot=1000)
    shown = tuple(
        f"{METRICS[m].format(ci.point)} [{METRICS[m].format(ci.low)}, {METRICS[m].format(ci.high)}]"
        for m, ci in cis.items()
        if m in EDITIONS["2024"]  # the README's table is of the 2024 edition's runs
    )
    assert shown == README_INTERVALS[name]


def test_gpt_4o_mini_intervals_are_as_wide_as_the_sampling_spread(runs):
    """Not merely low <= point <= high (the clamp in _interval always gives that): the interval
    sits around the point with a width near 2 x 1.96 standard errors."""
    records = runs["gpt-4o-mini"]
    cis = metric_cis(records)
    errors = np.array([abs(r["guess"] - r["truth"]) for r in records])
    se = errors.std(ddof=1) / np.sqrt(errors.size)
    assert cis["error"].width == pytest.approx(2 * 1.96 * se, rel=0.15)
    hits = cis["hit_rate"].point
    assert cis["hit_rate"].width == pytest.approx(
        2 * 1.96 * np.sqrt(hits * (1 - hits) / 250), rel=0.15
    )
    assert 0.10 < cis["rmsle"].width < 0.16 and cis["rmsle"].low > 0.5
    for interval in cis.values():
        assert interval.low < interval.point < interval.high


def test_intervals_shrink_with_more_items(runs):
    records = runs["gpt-4o-mini"]
    repeated = [dict(r, index=r["index"] + 250 * k) for k in range(4) for r in records]
    few, all_, many = metric_cis(records[:50]), metric_cis(records), metric_cis(repeated)
    for name in ("error", "hit_rate"):
        assert few[name].width > all_[name].width > many[name].width
    assert many["error"].point == pytest.approx(all_["error"].point)


def test_same_inputs_same_numbers_and_seed_moves_only_the_interval(runs):
    records = runs["gpt-4o-mini"]
    first, second = metric_cis(records), metric_cis(records, seed=SEED)
    assert first == second
    other = metric_cis(records, seed=SEED + 1)
    for name in CI_METRICS:
        assert other[name].point == first[name].point
    assert any(as_tuple(other[n]) != as_tuple(first[n]) for n in CI_METRICS)
    for name in ("error", "rmsle"):
        assert other[name].low == pytest.approx(first[name].low, rel=0.05)
        assert other[name].high == pytest.approx(first[name].high, rel=0.05)


def test_same_numbers_in_another_process(runs, tmp_path):
    path = tmp_path / "predictions.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in runs["human"]))
    code = (
        "import json, sys, dataclasses; from harness.stats import metric_cis; "
        f"recs = [json.loads(line) for line in open({str(path)!r})]; "
        "print(json.dumps({k: dataclasses.astuple(v) for k, v in metric_cis(recs).items()}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONHASHSEED": "12345", "PATH": ""},
    ).stdout
    here = {k: list(dataclasses.astuple(v)) for k, v in metric_cis(runs["human"]).items()}
    assert json.loads(out) == here


def test_bare_scores_give_the_same_intervals(runs, truths):
    records = runs["constant"]
    bare = score(truths, [r["guess"] for r in records])
    assert metric_cis(bare, n_boot=300) == metric_cis(records, n_boot=300)


def test_paired_comparison_finds_a_known_difference(runs):
    result = paired_comparison(runs["gpt-4o-mini"], runs["random"])
    assert result.n == 250
    assert result.wilcoxon_p < 1e-6
    assert result.mcnemar_p < 1e-6
    assert result.diff["error"].high < 0
    assert result.diff["hit_rate"].low > 0
    assert result.significant()
    assert result.diff["error"].point == pytest.approx(79.5788 - 340.739)


@pytest.mark.parametrize(
    ("wilcoxon_p", "mcnemar_p", "significant"),
    [(0.01, 0.5, True), (0.5, 0.01, True), (0.01, 0.01, True), (0.5, 0.5, False),
     (0.05, 0.05, False), (0.03, 0.5, False), (0.5, 0.024, True), (0.04, 0.04, False)],
)  # fmt: skip
def test_either_test_rejecting_after_holm_is_significant(wilcoxon_p, mcnemar_p, significant):
    # the two tests of one comparison are Holm-corrected: 0.03 alone is 0.06 once adjusted
    comparison = PairedComparison(250, {}, wilcoxon_p, mcnemar_p, 3, 4)
    assert comparison.significant(0.05) is significant


def test_paired_comparison_of_a_run_with_itself(runs):
    result = paired_comparison(runs["gpt-4o-mini"], runs["gpt-4o-mini"])
    assert result.wilcoxon_p == 1.0
    assert result.mcnemar_p == 1.0
    assert (result.a_only_hits, result.b_only_hits) == (0, 0)
    for name in CI_METRICS:
        assert as_tuple(result.diff[name]) == (0.0, 0.0, 0.0)
    assert not result.significant()


def test_paired_comparison_counts_and_sign(runs):
    a, b = runs["gpt-4o-mini"], runs["gpt-4o-mini-fine-tuned"]
    result = paired_comparison(a, b)
    hit_a = np.array([r["colour"] == "green" for r in a])
    hit_b = np.array([r["colour"] == "green" for r in b])
    assert result.a_only_hits == int(np.sum(hit_a & ~hit_b))
    assert result.b_only_hits == int(np.sum(~hit_a & hit_b))
    assert result.diff["hit_rate"].point == pytest.approx(hit_a.mean() - hit_b.mean())
    reverse = paired_comparison(b, a)
    assert reverse.wilcoxon_p == pytest.approx(result.wilcoxon_p)
    assert reverse.mcnemar_p == pytest.approx(result.mcnemar_p)
    assert reverse.diff["error"].point == pytest.approx(-result.diff["error"].point)


def test_paired_comparison_joins_by_index(runs):
    a, b = runs["gpt-4o-mini"], runs["human"]
    shuffled = [b[i] for i in np.random.default_rng(0).permutation(250)]
    extra = [dict(r, index=r["index"] + 1000) for r in a[:10]]
    assert paired_comparison(a + extra, shuffled) == paired_comparison(a, b)
    subset = paired_comparison(a[:100], b)
    assert subset.n == 100
    assert subset == paired_comparison(a[:100], b[:100])


def test_paired_comparison_refuses_different_test_sets(runs):
    a = runs["gpt-4o-mini"]
    other = [dict(r, truth=r["truth"] + 1) if r["index"] == 7 else r for r in runs["human"]]
    with pytest.raises(ValueError, match="different test sets"):
        paired_comparison(a, other)
    with pytest.raises(ValueError, match="share no item"):
        paired_comparison(a[:10], a[10:20])
    with pytest.raises(ValueError, match="more than once"):
        paired_comparison(a + a[:1], a)


def test_bad_arguments_fail_clearly(runs):
    with pytest.raises(ValueError, match="no items"):
        metric_cis([])
    with pytest.raises(ValueError, match="n_boot"):
        metric_cis(runs["human"], n_boot=0)
    with pytest.raises(ValueError, match="level"):
        metric_cis(runs["human"], level=95)
    with pytest.raises(ValueError, match="by='band'"):
        breakdown(runs["human"], by="colour")


def test_breakdown_by_band(runs):
    records = runs["gpt-4o-mini"]
    rows = breakdown(records)
    assert sum(row["n"] for row in rows) == 250
    assert [row["group"] for row in rows] == [label for label, _, _ in PRICE_BANDS]
    truth = np.array([r["truth"] for r in records])
    guess = np.array([r["guess"] for r in records])
    for row, (_, low, high) in zip(rows, PRICE_BANDS, strict=True):
        mask = (truth >= low) & (truth < high)
        assert row["n"] == mask.sum()
        assert row["error"] == pytest.approx(np.mean(np.abs(guess[mask] - truth[mask])))
        assert row["bias"] == pytest.approx(np.mean(guess[mask] - truth[mask]))
        sle = (np.log1p(truth[mask]) - np.log1p(guess[mask])) ** 2
        assert row["rmsle"] == pytest.approx(np.sqrt(np.mean(sle)))
        green = [r["colour"] == "green" for r, m in zip(records, mask, strict=True) if m]
        assert row["hit_rate"] == pytest.approx(np.mean(green))
        assert set(row) == {"group", "n", *METRICS}


def test_breakdown_by_category(runs):
    records = [dict(r) for r in runs["human"]]
    for r in records:
        if r["index"] % 5 == 0:
            del r["colour"]  # stored fields are not needed
        elif r["index"] % 2:
            r["category"] = "Electronics"
        else:
            r["category"] = "Toys"
    rows = breakdown(records, by="category")
    assert [(row["group"], row["n"]) for row in rows] == [
        ("Electronics", 100),
        ("Toys", 100),
        ("unknown", 50),
    ]
    toys = [r for r in records if r.get("category") == "Toys"]
    assert rows[1]["error"] == pytest.approx(np.mean([abs(r["guess"] - r["truth"]) for r in toys]))
    assert breakdown(records[:5], by="category")[0]["group"] == "Electronics"


def test_holm_on_the_textbook_example():
    # Wikipedia's Holm-Bonferroni example: four hypotheses at 5%; H4 (0.005) and H1 (0.01) are
    # rejected, H3 (0.03) and H2 (0.04) are not. Adjusted: 4 x 0.005, 3 x 0.01, then
    # max(2 x 0.03, 0.03) and max(1 x 0.04, 0.06).
    adjusted = holm([0.01, 0.04, 0.03, 0.005])
    assert adjusted == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert [p < 0.05 for p in adjusted] == [True, False, False, True]


def test_holm_is_monotone_and_capped_at_one():
    # R: p.adjust(c(0.01, 0.02, 0.03, 0.04, 0.05), "holm") = 0.05 0.08 0.09 0.09 0.09
    assert holm([0.01, 0.02, 0.03, 0.04, 0.05]) == pytest.approx([0.05, 0.08, 0.09, 0.09, 0.09])
    assert holm([0.5, 0.9, 0.6]) == [1.0, 1.0, 1.0]
    assert holm([0.04]) == [0.04] and holm([]) == []
    assert holm([0.02, 0.02]) == pytest.approx([0.04, 0.04])  # ties: the same adjusted value


@pytest.mark.parametrize("bad", [[float("nan")], [-0.1], [1.5]])
def test_holm_refuses_what_is_not_a_p_value(bad):
    with pytest.raises(ValueError, match="p-values must be between 0 and 1"):
        holm(bad)
