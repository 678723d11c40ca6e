"""Leaderboards of runs of both editions: each edition's columns, its reported rows, and runs of
different editions never ranked together. The run folders are written here directly, in the
format harness/results.py writes (config.yaml, predictions.jsonl, metrics.json)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from harness import leaderboard, leaderboard_cli, leaderboard_format, results
from harness.data import CANONICAL_FINGERPRINT
from harness.metrics import score, summarise, summary_line
from harness.published import PUBLISHED_2025

FP_2025 = "a" * 64
HEAD_2024 = (
    "| # | predictor | model | error | RMSLE | hits | n | unparseable | cost | $ per 250 items "
    "| date | run |"
)
HEAD_2025 = (
    "| # | predictor | model | error | MSE | R² | hits | n | unparseable | cost "
    "| $ per 250 items | date | run |"
)


def write_run(
    results_dir: Path, folder: str, spread: float, seed: int, *, edition: str | None,
    fingerprint: str, n: int, drop: tuple[str, ...] = (), **extra: Any,
) -> Path:  # fmt: skip
    """One finished run folder: n items, guesses within ``spread`` of the truth."""
    truths = np.round(np.random.default_rng(0).uniform(10, 500, n), 2)
    guesses = np.round(truths * np.random.default_rng(seed).uniform(1 - spread, 1 + spread, n), 2)
    scores = score(truths, guesses)
    summary = summarise(scores)
    title = folder.split("_")[1]
    metrics: dict[str, Any] = {
        "predictor": title, "title": title, **summary,
        "summary_line": summary_line(title, summary, edition or "2024"),
        "fingerprint": fingerprint, "canonical": fingerprint == CANONICAL_FINGERPRINT,
        "created_at": f"2026-12-0{seed}T00:00:00+00:00", "unparseable": 0, **extra,
    }  # fmt: skip
    if edition is not None:
        metrics["edition"] = edition
    for key in drop:
        metrics.pop(key)
    records = [
        {"index": i, "title": f"item {i}", "truth": float(t), "guess": float(g),
         "error": float(e), "sle": float(s), "colour": c}
        for i, (t, g, e, s, c) in enumerate(
            zip(truths, scores.guess, scores.error, scores.sle, scores.colour, strict=True))
    ]  # fmt: skip
    path = results_dir / folder
    results.write_text(path / results.CONFIG_FILE, f"predictor:\n  name: {title}\n  seed: {seed}\n")
    results.write_jsonl(path / results.PREDICTIONS_FILE, records)
    results.write_json(path / results.METRICS_FILE, metrics)
    return path


@pytest.fixture
def store(tmp_path: Path) -> Path:
    """Two 2024 runs on the canonical 250 and three 2025 runs on one 200-item set."""
    root = tmp_path / "results"
    for folder, spread, seed in (("20261201-000000_old-a_000001", 0.3, 1),
                                 ("20261202-000000_old-b_000002", 0.6, 2)):  # fmt: skip
        write_run(root, folder, spread, seed, edition=None, fingerprint=CANONICAL_FINGERPRINT,
                  n=250)  # fmt: skip
    for folder, spread, seed in (("20261203-000000_new-a_000003", 0.1, 3),
                                 ("20261204-000000_new-b_000004", 0.5, 4),
                                 ("20261205-000000_new-c_000005", 0.9, 5)):  # fmt: skip
        write_run(root, folder, spread, seed, edition="2025", fingerprint=FP_2025, n=200)
    return root


def _board(store: Path, **kwargs: Any) -> leaderboard.Leaderboard:
    return leaderboard.build(leaderboard.load_runs(store), n_boot=kwargs.pop("n_boot", 50),
                             **kwargs)  # fmt: skip


def test_the_editions_are_ranked_apart_each_with_its_reported_rows(store: Path) -> None:
    board = _board(store)
    first = [r for r in board.ranked if r.kind == "run"]
    assert [r.title for r in first] == ["old-a", "old-b"] and [r.rank for r in first] == [1, 2]
    assert len([r for r in board.ranked if r.kind == "reported"]) == 12
    assert all(r.edition == "2024" for r in board.ranked) and board.others == {}
    (rows,) = board.editions["2025"].values()
    runs = [r for r in rows if r.kind == "run"]
    assert [r.title for r in runs] == ["new-a", "new-b", "new-c"]
    assert [r.rank for r in runs] == [1, 2, 3]
    assert runs[0].tie_with_leader == "leader" and runs[2].tie_with_leader == "no"
    reported = [r for r in rows if r.kind == "reported"]
    assert [r.predictor for r in reported] == sorted(
        (p.predictor for p in PUBLISHED_2025),
        key=lambda name: next(p.error for p in PUBLISHED_2025 if p.predictor == name),
    )
    assert {r.n for r in reported} == {200} and all(r.edition == "2025" for r in rows)
    errors = [r.values["error"] for r in rows]
    assert errors == sorted(errors)
    assert any(note.startswith("reported rows: LLM Engineering course (Ed Donner), week 6, 2025 "
                               "edition: ed-donner/llm_engineering week6/results.ipynb")
               for note in board.notes)  # fmt: skip


def test_markdown_shows_each_editions_columns(store: Path) -> None:
    lines = leaderboard_format.markdown(_board(store)).splitlines()
    assert lines[0] == HEAD_2024  # the 2024 table first, as it was
    assert lines.count(HEAD_2024) == 1 and lines.count(HEAD_2025) == 1
    assert "2025 edition, item set (fingerprint aaaaaaaaaaaa), ranked on its own:" in lines
    (gpt51,) = [line for line in lines if line.startswith("|  | gpt-5.1 (reported)")]
    assert gpt51 == "|  | gpt-5.1 (reported) |  | $44.74 |  |  |  | 200 |  |  |  |  |  |"
    (new_a,) = [line for line in lines if "| new-a |" in line]
    cells = [c.strip() for c in new_a.strip("|").split("|")]
    assert cells[0] == "1" and cells[3].startswith("$") and "%" in cells[5] and "%" in cells[6]
    assert "RMSLE" not in lines[lines.index(HEAD_2025)]
    (old_a,) = [line for line in lines if "| old-a |" in line]
    assert (
        len(old_a.strip("|").split("|")) == 12
    )  # the 2024 row has no MSE or R² cells (12 = 11 + $ per 250 items)


def test_the_mse_and_r2_shown_are_the_runs(store: Path) -> None:
    (new_a,) = [r for r in leaderboard.load_runs(store) if r.metrics["title"] == "new-a"]
    board = _board(store)
    (row,) = [r for rows in board.editions["2025"].values() for r in rows if r.title == "new-a"]
    assert row.values["mse"] == new_a.metrics["mse"] and row.values["r2"] == new_a.metrics["r2"]
    cells = leaderboard_format.cells(row)
    mse, r2 = row.intervals["mse"], row.intervals["r2"]
    assert cells[4] == f"{new_a.metrics['mse']:,.0f} [{mse.low:,.0f}, {mse.high:,.0f}]"
    assert cells[5] == f"{new_a.metrics['r2']:.1%} [{r2.low:.1%}, {r2.high:.1%}]"


def test_the_csv_carries_mse_r2_and_the_edition_of_every_row(store: Path) -> None:
    rows = list(csv.DictReader(io.StringIO(leaderboard_format.to_csv(_board(store)))))
    assert len(rows) == 2 + 12 + 3 + 14  # each reported row once
    runs = {r["title"]: r for r in rows if r["kind"] == "run"}
    assert {t: r["edition"] for t, r in runs.items()} == {
        "old-a": "2024",
        "old-b": "2024",
        "new-a": "2025",
        "new-b": "2025",
        "new-c": "2025",
    }
    for r in runs.values():  # mse and r2 for every run, with their intervals
        assert float(r["mse_low"]) <= float(r["mse"]) <= float(r["mse_high"])
        assert float(r["r2_low"]) <= float(r["r2"]) <= float(r["r2_high"])
    assert runs["new-a"]["rank"] == runs["old-a"]["rank"] == "1"
    reported = [r for r in rows if r["kind"] == "reported" and r["edition"] == "2025"]
    assert len(reported) == 14 and {r["mse"] + r["r2"] + r["rmsle"] for r in reported} == {""}


def test_html_and_the_terminal_table_show_both_editions(store: Path, capsys, monkeypatch) -> None:
    page = leaderboard_format.to_html(_board(store))
    assert "<th>R²</th>" in page and "<th>MSE</th>" in page and "<th>RMSLE</th>" in page
    assert "gpt-5.1 (reported)" in page and "gpt-4o-mini (reported)" in page
    monkeypatch.setenv("COLUMNS", "400")
    leaderboard_cli.main(["--results", str(store), "--bootstrap", "20"])
    out = capsys.readouterr().out
    assert "pricebench leaderboard (canonical 250 items)" in out
    assert "2025 edition, item set aaaaaaaaaaaa (ranked on its own)" in out
    assert "R²" in out and "gpt-5.1 (reported)" in out


def test_a_store_of_2025_runs_only_shows_no_2024_rows(store: Path) -> None:
    for path in store.glob("*_old-*"):
        (path / results.METRICS_FILE).unlink()
    board = _board(store)
    assert board.ranked == [] and board.others == {}
    text = leaderboard_format.markdown(board)
    assert HEAD_2024 not in text and text.startswith("2025 edition, item set")
    assert "gpt-4o-mini (reported)" not in text and "gpt-5.1 (reported)" in text
    assert not any("2024 edition" in note for note in board.notes)


def test_an_empty_store_shows_the_2024_table_as_before(tmp_path: Path) -> None:
    board = leaderboard.build([])
    assert len(board.ranked) == 12 and board.editions == {}
    assert leaderboard_format.markdown(board).splitlines()[0] == HEAD_2024


def test_2025_runs_on_two_item_sets_are_two_tables(store: Path) -> None:
    write_run(store, "20261206-000000_elsewhere_000006", 0.2, 6, edition="2025",
              fingerprint="b" * 64, n=30)  # fmt: skip
    board = _board(store)
    assert set(board.editions["2025"]) == {FP_2025, "b" * 64}
    (only,) = [r for r in board.editions["2025"]["b" * 64] if r.kind == "run"]
    assert only.rank == 1 and only.title == "elsewhere"
    rows = list(csv.DictReader(io.StringIO(leaderboard_format.to_csv(board))))
    assert len([r for r in rows if r["kind"] == "reported"]) == 12 + 14


def test_a_2025_run_on_the_2024_items_is_still_not_ranked_with_them(store: Path) -> None:
    write_run(store, "20261206-000000_mixed_000006", 0.05, 6, edition="2025",
              fingerprint=CANONICAL_FINGERPRINT, n=250)  # fmt: skip
    board = _board(store)
    assert "mixed" not in [r.title for r in board.ranked]
    assert [r.title for r in board.editions["2025"][CANONICAL_FINGERPRINT] if r.kind == "run"] == [
        "mixed"
    ]


def test_a_2024_run_from_before_mse_and_r2_is_read_and_gets_them_from_its_records(
    tmp_path: Path,
) -> None:
    root = tmp_path / "results"
    path = write_run(root, "20261201-000000_before_000001", 0.3, 1, edition=None,
                     fingerprint=CANONICAL_FINGERPRINT, n=250, drop=("mse", "r2"))  # fmt: skip
    run = leaderboard.read_run(path)
    (row,) = [r for r in leaderboard.build([run], n_boot=20).ranked if r.kind == "run"]
    truth = [r["truth"] for r in run.records]
    guess = [r["guess"] for r in run.records]
    assert row.values["mse"] == pytest.approx(summarise(score(truth, guess))["mse"], rel=1e-12)
    assert leaderboard.build([run], n_boot=0).ranked[0].values.keys() >= {"error", "rmsle"}
    (mean,) = [r for r in leaderboard.build([run], aggregate="mean").ranked if r.kind == "mean"]
    assert "mse" not in mean.values and mean.values["error"] == run.metrics["error"]


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"edition": "2030"}, "metrics.json's 'edition' is '2030', not one of '2024', '2025'"),
        ({"edition": 2025}, "metrics.json's 'edition' is 2025, not one of '2024', '2025'"),
        ({"r2": None}, "metrics.json has no 'r2'"),
        ({"mse": "big"}, "metrics.json's 'mse' is 'big', not a number"),
    ],
)
def test_a_2025_run_folder_that_cannot_be_read_is_skipped(
    store: Path, capsys, change: dict, why: str
) -> None:
    path = next(store.glob("*_new-b_*"))
    metrics = json.loads((path / results.METRICS_FILE).read_text())
    results.write_json(path / results.METRICS_FILE, {**metrics, **change})
    runs = leaderboard.load_runs(store)
    assert [r.metrics["title"] for r in runs] == ["old-a", "old-b", "new-a", "new-c"]
    (line,) = capsys.readouterr().err.splitlines()
    assert line == f"pricebench: warning: skipped {path}: {why}"


def test_a_2024_run_with_a_bad_mse_is_skipped_too(store: Path) -> None:
    path = next(store.glob("*_old-a_*"))
    metrics = json.loads((path / results.METRICS_FILE).read_text())
    results.write_json(path / results.METRICS_FILE, {**metrics, "mse": float("nan")})
    with pytest.raises(leaderboard.UnreadableRun, match="'mse' is nan, not a finite number"):
        leaderboard.read_run(path)


def test_compare_two_2025_runs_shows_their_editions_metrics(store: Path, capsys) -> None:
    leaderboard_cli.main(["--results", str(store), "--compare", "20261203", "20261204"])
    captured = capsys.readouterr()
    names = [line.split()[0] for line in captured.out.splitlines() if line.startswith("  ")]
    assert names == ["error", "mse", "r2", "hit_rate"] and captured.err == ""


def test_compare_across_editions_warns_and_shows_every_metric(store: Path, capsys) -> None:
    leaderboard_cli.main(["--results", str(store), "--compare", "20261201", "20261203"])
    captured = capsys.readouterr()
    names = [line.split()[0] for line in captured.out.splitlines() if line.startswith("  ")]
    assert names == ["error", "rmsle", "hit_rate", "mse", "r2"]
    assert captured.err.splitlines() == [
        "pricebench-leaderboard: warning: the runs follow different editions (2024 and 2025); "
        "comparing shared items on every metric of both"
    ]


def test_mean_rows_of_a_2025_seed_sweep(store: Path) -> None:
    for path in store.glob("*_new-*"):
        metrics = json.loads((path / results.METRICS_FILE).read_text())
        results.write_json(path / results.METRICS_FILE, {**metrics, "title": "sweep"})
        (path / results.CONFIG_FILE).write_text("predictor:\n  name: sweep\n  seed: 1\n")
    board = _board(store, aggregate="mean")
    (rows,) = board.editions["2025"].values()
    (mean,) = [r for r in rows if r.kind == "mean"]
    assert mean.runs == 3 and set(mean.sd) == {"error", "rmsle", "hit_rate", "mse", "r2"}
    assert leaderboard_format.cells(mean)[5].count("±") == 1  # R² as mean ± sd
