"""Leaderboard rows from runs held in memory (no results store, no subprocess): ranking, mean ± sd,
the CSV columns and the cells as the README's table shows them."""

from __future__ import annotations

import csv
import html
import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from harness import leaderboard_format
from harness.data import CANONICAL_FINGERPRINT, load_dataset
from harness.leaderboard import COLUMNS, Run, build, mean_row
from tests.conftest import REFERENCE_DIR

# The CSV header of `pricebench-leaderboard --format csv`: a file format, kept as it is; the 2025
# edition's metrics and each row's edition were added at the end (issue 13).
CSV_HEADER = (
    "rank,kind,predictor,title,model,error,error_low,error_high,rmsle,rmsle_low,rmsle_high,"
    "hit_rate,hit_rate_low,hit_rate_high,error_sd,rmsle_sd,hit_rate_sd,runs,n,unparseable,cost,"
    "tie_with_leader,date,run,fingerprint,"
    "mse,mse_low,mse_high,mse_sd,r2,r2_low,r2_high,r2_sd,edition"
)
# Lines of the README's leaderboard table, built from the recordings below (the recordings carry
# no cost: both cost columns are blank; "$ per 250 items" added in issue 14).
README_LINES = [
    "| # | predictor | model | error | RMSLE | hits | n | unparseable | cost | $ per 250 items "
    "| date | run |",
    "| 1 | gpt-4o-mini |  | $79.58 [$64.82, $96.91] | 0.59 [0.52, 0.65] | 52.0% [45.6%, 58.0%] "
    "| 250 | 0 |  |  | 2026-11-26 | 20261126-063123_gpt-4o-mini_0a0a03 |",
    "|  | gpt-4o-mini (reported) |  | $79.58 | 0.59 | 52.0% | 250 |  |  |  |  |  |",
    "| 2 | gpt-4o-mini-fine-tuned |  | $91.45 [$79.42, $104.17] | 0.68 [0.61, 0.75] | "
    "44.0% [38.4%, 50.0%] | 250 | 0 |  |  | 2026-11-26 | "
    "20261126-063123_gpt-4o-mini-fine-tuned_d3e782 |",
    "|  | random (reported) |  | $340.74 | 1.72 | 11.6% | 250 |  |  |  |  |  |",
]


def fake_run(folder: str, records: list[dict[str, Any]] | None = None, seed: int = 1,
             **metrics: Any) -> Run:  # fmt: skip
    """A finished run as the leaderboard sees it, with its records already read."""
    stored = {"title": folder.split("_")[1] if "_" in folder else folder, "predictor": "p",
              "n": 250, "fingerprint": CANONICAL_FINGERPRINT,
              "created_at": "2026-11-26T06:31:23", **metrics}  # fmt: skip
    run = Run(Path(folder), stored, {"predictor": {"name": "p", "seed": seed}})
    if records is not None:
        run.__dict__["records"] = records  # what the cached property would read from disk
    return run


def recorded_run(folder: str, truths: list[float]) -> Run:
    from harness.metrics import score, summarise

    with (REFERENCE_DIR / f"{folder.split('_')[1]}.csv").open(newline="") as f:
        guesses = [float(row["guess"]) for row in csv.DictReader(f)]
    scores = score(truths, guesses)
    records = [{"index": i, "truth": t, "guess": float(g), "title": f"item {i}"}
               for i, (t, g) in enumerate(zip(truths, scores.guess, strict=True))]  # fmt: skip
    return fake_run(folder, records, unparseable=0, **summarise(scores))


def synthetic_run(folder: str, spread: float, seed: int, fingerprint: str = CANONICAL_FINGERPRINT,
                  n: int = 60) -> Run:  # fmt: skip
    from harness.metrics import score, summarise

    truths = np.random.default_rng(0).uniform(10, 500, n)  # one item set for every run
    guesses = truths * np.random.default_rng(seed).uniform(1 - spread, 1 + spread, n)
    records = [{"index": i, "truth": float(t), "guess": float(g), "title": f"item {i}"}
               for i, (t, g) in enumerate(zip(truths, guesses, strict=True))]  # fmt: skip
    summary = summarise(score(truths, guesses))
    return fake_run(folder, records, seed=seed, **{**summary, "fingerprint": fingerprint})


@pytest.fixture(scope="module")
def truths(data_dir: Path) -> list[float]:
    return [item.price for item in load_dataset(str(data_dir), need_train=False).test]


def test_the_readme_table_lines(truths: list[float]) -> None:
    runs = [recorded_run(f"20261126-063123_{name}", truths)
            for name in ("gpt-4o-mini_0a0a03", "gpt-4o-mini-fine-tuned_d3e782")]  # fmt: skip
    for run in runs:
        run.metrics["title"] = run.path.name.split("_")[1]
    lines = leaderboard_format.markdown(build(runs)).splitlines()
    for line in README_LINES:
        assert line in lines


def test_mean_rows_show_the_mean_and_the_sample_standard_deviation() -> None:
    figures = ((1, 10.0, 0.5, 0.1), (2, 20.0, 0.7, 0.2), (3, 30.0, 0.9, 0.3))
    runs = [
        fake_run(f"r{seed}", seed=seed, title="random", error=error, rmsle=rmsle, hit_rate=hits)
        for seed, error, rmsle, hits in figures
    ]
    (row,) = build(runs, aggregate="mean", reported=False).ranked
    assert row.kind == "mean" and row.runs == 3 and row.run == "r1, r2, r3"
    assert row.values == pytest.approx({"error": 20.0, "rmsle": 0.7, "hit_rate": 0.2})
    assert row.sd == pytest.approx({"error": 10.0, "rmsle": 0.2, "hit_rate": 0.1})  # n - 1
    cells = leaderboard_format.cells(row)
    assert cells[:6] == ["1", "random (mean of 3)", "", "$20.00 ± 10.00", "0.70 ± 0.20",
                         "20.0% ± 10.0%"]  # fmt: skip
    assert row.intervals == {} and row.source is runs[-1]
    assert mean_row(runs[:1]).sd == {"error": 0.0, "rmsle": 0.0, "hit_rate": 0.0}


def test_rows_are_ranked_best_first_and_other_item_sets_kept_apart() -> None:
    runs = [
        synthetic_run("wide", 0.9, 1),
        synthetic_run("narrow", 0.1, 2),
        synthetic_run("middle", 0.4, 3),
        synthetic_run("elsewhere", 0.05, 4, "other", 30),
    ]
    board = build(runs, n_boot=50)
    ranked = [r for r in board.ranked if r.kind == "run"]
    assert [r.run for r in ranked] == ["narrow", "middle", "wide"]
    assert [r.rank for r in ranked] == [1, 2, 3]
    assert ranked[0].tie_with_leader == "leader" and ranked[2].tie_with_leader == "no"
    errors = [r.values["error"] for r in board.ranked]
    assert errors == sorted(errors) and len(board.ranked) == 3 + 12
    assert all(r.rank is None for r in board.ranked if r.kind == "reported")
    (elsewhere,) = board.others["other"]
    assert elsewhere.run == "elsewhere" and elsewhere.rank is None
    assert elsewhere.tie_with_leader is None
    assert any("fingerprint other" in note for note in board.notes)


def test_the_csv_columns_and_blank_cells() -> None:
    runs = [synthetic_run("a", 0.3, 1), synthetic_run("b", 0.5, 2)]
    assert ",".join(COLUMNS) == CSV_HEADER
    text = leaderboard_format.to_csv(build(runs, n_boot=50))
    assert text.splitlines()[0] == CSV_HEADER
    rows = list(csv.DictReader(io.StringIO(text)))
    first = rows[0]
    assert first["kind"] == "run" and first["rank"] == "1" and first["error_sd"] == ""
    assert float(first["error_low"]) < float(first["error"]) < float(first["error_high"])
    reported = [r for r in rows if r["kind"] == "reported"]
    assert len(reported) == 12
    assert {r["rank"] + r["unparseable"] + r["cost"] + r["error_low"] for r in reported} == {""}
    for run in runs:
        run.metrics["title"] = "seeds"  # one configuration, two seeds
    mean = leaderboard_format.to_csv(build(runs, aggregate="mean", reported=False))
    (row,) = list(csv.DictReader(io.StringIO(mean)))
    assert row["error_low"] == "" and float(row["error_sd"]) >= 0 and row["runs"] == "2"


def test_a_row_reads_like_its_csv_line() -> None:
    board = build([synthetic_run("a", 0.3, 1)], n_boot=50, reported=False)
    (row,) = board.ranked
    assert row["error_low"] == row.intervals["error"].low and row["run"] == "a"
    assert row["error_sd"] is None and row["tie_with_leader"] is None
    with pytest.raises(KeyError):
        row["_run"]


def test_the_table_headers() -> None:
    assert leaderboard_format.HEADERS == (
        "#", "predictor", "model", "error", "RMSLE", "hits", "n", "unparseable", "cost",
        "$ per 250 items", "date", "run",
    )  # fmt: skip


def test_ties_with_the_leader_are_decided_after_a_holm_correction(monkeypatch) -> None:
    """Three runs against the leader, two tests each: six p-values, Holm-corrected together. At
    5% uncorrected all three would differ from the leader; after Holm (0.001 x 6 = 0.006,
    0.03 x 5 = 0.15, 0.04 x 4 = 0.16, ...) only "clear" does."""
    from harness import leaderboard
    from harness.stats import PairedComparison

    spreads = (("leader", 0.1, 1), ("clear", 0.2, 2), ("borderline", 0.3, 3), ("hits", 0.4, 4))
    runs = [synthetic_run(name, spread, seed) for name, spread, seed in spreads]
    p_values = {"clear": (0.001, 0.9), "borderline": (0.03, 0.5), "hits": (0.2, 0.04)}

    def fake(a: list, b: list, **kwargs: Any) -> PairedComparison:
        (name,) = [r.path.name for r in runs if r.records is b]
        return PairedComparison(len(a), {}, *p_values[name], 0, 0)

    monkeypatch.setattr(leaderboard, "paired_comparison", fake)
    board = build(runs, reported=False, n_boot=0)
    marks = {row.run: row.tie_with_leader for row in board.ranked}
    assert marks == {"leader": "leader", "clear": "no", "borderline": "yes", "hits": "yes"}
    ranks = [leaderboard_format.cells(row)[0] for row in board.ranked]
    assert ranks == ["1", "2", "3 ≈", "4 ≈"]


def test_every_legend_says_the_ties_are_holm_corrected() -> None:
    board = build([synthetic_run("a", 0.3, 1), synthetic_run("b", 0.5, 2)], n_boot=20)
    (line,) = [x for x in leaderboard_format.legend(board) if x.startswith("≈")]
    assert "Holm" in line and "5%" in line
    assert f"- {line}" in leaderboard_format.markdown(board).splitlines()
    assert f"<p>{html.escape(line)}</p>" in leaderboard_format.to_html(board)


def test_a_run_that_cannot_be_compared_with_the_leader_is_left_unmarked(capsys) -> None:
    """Two canonical runs that disagree on a true price: no tie mark, one warning, the board."""
    runs = [synthetic_run("leader", 0.1, 1), synthetic_run("odd", 0.3, 2)]
    runs[1].records[0] = {**runs[1].records[0], "truth": 1234.5}
    board = build(runs, reported=False, n_boot=20)
    marks = {row.run: row.tie_with_leader for row in board.ranked}
    assert marks == {"leader": "leader", "odd": None}
    (warning,) = capsys.readouterr().err.splitlines()
    assert warning.startswith("pricebench: warning: odd not compared with the leader leader: ")
    assert "disagree on the true price" in warning
