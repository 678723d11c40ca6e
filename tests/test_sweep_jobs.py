"""The sweep's job records and its end-of-sweep leaderboard, in-process on made-up run folders
(real multiruns are in test_sweeps.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from omegaconf import OmegaConf

from harness import results, sweep
from harness.data import CANONICAL_FINGERPRINT
from harness.metrics import CI_METRICS, score, summarise, summary_line


def write_run(folder: Path, spread: float, seed: int) -> dict:
    """A finished run folder for 50 made-up items; its metrics."""
    truths = np.random.default_rng(0).uniform(10, 500, 50)
    guesses = truths * np.random.default_rng(seed).uniform(1 - spread, 1 + spread, 50)
    scores = score(truths, guesses)
    summary = summarise(scores)
    metrics = {"predictor": folder.name, "title": folder.name, **summary,
               "summary_line": summary_line(folder.name, summary),
               "fingerprint": CANONICAL_FINGERPRINT, "created_at": f"2026-01-0{seed}"}  # fmt: skip
    records = [{"index": i, "truth": float(t), "guess": float(g), "title": f"item {i}"}
               for i, (t, g) in enumerate(zip(truths, scores.guess, strict=True))]  # fmt: skip
    results.write_jsonl(folder / results.PREDICTIONS_FILE, records)
    results.write_json(folder / results.METRICS_FILE, metrics)
    return metrics


@pytest.fixture
def sweep_dir(tmp_path: Path) -> Path:
    """Three jobs: two finished (narrow and wide guesses) and one failed."""
    root = tmp_path / "multirun"
    for job, spread, seed in (("0", 0.2, 1), ("1", 0.9, 2)):
        metrics = write_run(tmp_path / "results" / f"run{job}", spread, seed)
        sweep.record_job(root / job, [f"predictor.spread={spread}"],
                         run_dir=tmp_path / "results" / f"run{job}", metrics=metrics)  # fmt: skip
    sweep.record_job(root / "2", ["predictor=replay"], error="the replay predictor needs a path")
    return root


def test_a_job_records_its_outcome_and_the_leaderboard_metrics(sweep_dir: Path) -> None:
    jobs = sweep.read_jobs(sweep_dir)
    assert [j["status"] for j in jobs] == ["ok", "ok", "failed"]
    ok = jobs[0]
    assert set(ok) == {"overrides", "status", "run_dir", *CI_METRICS}
    assert ok["error"] == results.read_metrics(ok["run_dir"])["error"]
    assert jobs[2] == {
        "overrides": ["predictor=replay"], "status": "failed",
        "error": "the replay predictor needs a path",
    }  # fmt: skip


def test_the_best_job_follows_each_metric_direction(sweep_dir: Path) -> None:
    done = sweep.read_jobs(sweep_dir)[:2]
    best, value = sweep.best_job(done, "error")
    assert best is done[0] and value == min(j["error"] for j in done)
    best, value = sweep.best_job(done, "hit_rate")
    assert value == max(j["hit_rate"] for j in done)
    best, value = sweep.best_job(done, "share_red")  # not in the record: read from metrics.json
    assert best is done[0] and value == results.read_metrics(done[0]["run_dir"])["share_red"]
    with pytest.raises(ValueError, match="no better direction"):
        sweep.best_job(done, "bias")
    with pytest.raises(ValueError, match="is not a metric"):
        sweep.best_job(done, "accuracy")


def test_the_end_of_sweep_leaderboard(sweep_dir: Path, capsys) -> None:
    config = OmegaConf.create({"hydra": {"sweep": {"dir": str(sweep_dir)}}})
    with pytest.raises(SystemExit) as exit_info:
        sweep.SweepLeaderboard().on_multirun_end(config)
    assert exit_info.value.code == 1  # a job failed
    out = capsys.readouterr().out
    assert f"sweep {sweep_dir}: 2 job(s) done, 1 failed" in out
    board = (sweep_dir / "leaderboard.md").read_text()
    assert board.rstrip() in out and "| 1 | run0 |" in board and "| 2 | run1 |" in board
    assert (sweep_dir / "best.json").read_text() == (sweep_dir / "0" / sweep.JOB_FILE).read_text()
    error = sweep.read_jobs(sweep_dir)[0]["error"]
    assert f"best: predictor.spread=0.2 error=${error:,.2f}" in out
    assert "failed: predictor=replay: the replay predictor needs a path" in out


def test_an_optimized_metric_chooses_the_best_job(sweep_dir: Path, capsys) -> None:
    config = OmegaConf.create(
        {"hydra": {"sweep": {"dir": str(sweep_dir)}}, "optimized_metric": "median_error"}
    )
    with pytest.raises(SystemExit):
        sweep.SweepLeaderboard().on_multirun_end(config)
    median = results.read_metrics(sweep.read_jobs(sweep_dir)[0]["run_dir"])["median_error"]
    assert f"best: predictor.spread=0.2 median_error=${median:,.2f}" in capsys.readouterr().out


def _end_of_sweep(sweep_dir: Path) -> int | str | None:
    config = OmegaConf.create({"hydra": {"sweep": {"dir": str(sweep_dir)}}})
    try:
        sweep.SweepLeaderboard().on_multirun_end(config)
    except SystemExit as exc:
        return exc.code
    return 0


def test_the_sweep_board_skips_a_bad_run_folder(sweep_dir: Path, capsys) -> None:
    """A job recorded as done whose run folder is unreadable, and a better one whose metrics are a
    list: each is one warning; the board and the best job come from the good run."""
    tmp = sweep_dir.parent
    bad = tmp / "results" / "run1"
    (bad / results.METRICS_FILE).write_text("[1, 2]")
    metrics = write_run(tmp / "results" / "run3", 0.01, 3)
    truncated = tmp / "results" / "run3" / results.PREDICTIONS_FILE
    truncated.write_text(truncated.read_text()[:-20])
    sweep.record_job(sweep_dir / "3", ["predictor.spread=0.01"], run_dir=tmp / "results" / "run3",
                     metrics=metrics)  # fmt: skip
    assert _end_of_sweep(sweep_dir) == 1
    captured = capsys.readouterr()
    warnings = captured.err.splitlines()
    assert len(warnings) == 2, captured.err
    assert warnings[0].startswith(f"pricebench: warning: skipped {bad}: metrics.json holds a JSON")
    assert warnings[1].startswith(f"pricebench: warning: skipped {tmp / 'results' / 'run3'}: ")
    assert "predictions.jsonl line 50 is not valid JSON" in warnings[1]
    out = captured.out
    assert f"sweep {sweep_dir}: 3 job(s) done, 1 failed" in out
    board = (sweep_dir / "leaderboard.md").read_text()
    assert board.rstrip() in out and "| 1 | run0 |" in board
    assert "run1" not in board and "run3" not in board
    assert "best: predictor.spread=0.2 " in out  # run3 had the better record but cannot be read
    assert "failed: predictor=replay: the replay predictor needs a path" in out


def test_the_sweep_board_survives_garbled_job_records(sweep_dir: Path, capsys) -> None:
    (sweep_dir / "4").mkdir()
    (sweep_dir / "4" / sweep.JOB_FILE).write_text('{"overrides": ["a=1"], "stat')
    (sweep_dir / "5").mkdir()
    (sweep_dir / "5" / sweep.JOB_FILE).write_text("[1, 2, 3]")
    (sweep_dir / "6").mkdir()
    (sweep_dir / "6" / sweep.JOB_FILE).write_text('{"overrides": ["b=2"], "status": "failed"}')
    (sweep_dir / "7").mkdir()
    (sweep_dir / "7" / sweep.JOB_FILE).write_text('{"overrides": ["c=3"], "status": "ok"}')
    assert _end_of_sweep(sweep_dir) == 1
    captured = capsys.readouterr()
    warnings = captured.err.splitlines()
    assert warnings == [
        f"pricebench: warning: skipped job record {sweep_dir / '4' / sweep.JOB_FILE}: "
        "not valid JSON (truncated?)",
        f"pricebench: warning: skipped job record {sweep_dir / '5' / sweep.JOB_FILE}: "
        "not a JSON object",
        "pricebench: warning: skipped job c=3: its record names no run folder",
    ]
    assert f"sweep {sweep_dir}: 3 job(s) done, 2 failed" in captured.out
    assert "| 1 | run0 |" in captured.out and "best: predictor.spread=0.2 " in captured.out
    assert "failed: b=2: (no error recorded)" in captured.out


def test_a_sweep_whose_every_run_is_unreadable_still_reports(sweep_dir: Path, capsys) -> None:
    for job in sweep.read_jobs(sweep_dir)[:2]:
        (Path(job["run_dir"]) / results.METRICS_FILE).write_text("{}")
    assert _end_of_sweep(sweep_dir) == 1
    captured = capsys.readouterr()
    assert len(captured.err.splitlines()) == 2
    assert f"sweep {sweep_dir}: 2 job(s) done, 1 failed" in captured.out
    assert "no readable run: no leaderboard" in captured.out
    assert "failed: predictor=replay" in captured.out
    assert not (sweep_dir / "leaderboard.md").exists()
