"""Hydra multirun for real, in subprocesses: the basic and joblib launchers, Optuna, submitit_local,
a failing job, and the sweep leaderboard printed at the end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.conftest import read_json, run_cli, run_dirs

pytestmark = pytest.mark.slow


def sweep_dir(tmp_path: Path) -> Path:
    (day,) = (tmp_path / "multirun").iterdir()
    (sweep,) = day.iterdir()
    return sweep


# The basic launcher's multirun (random, constant), its leaderboard and best job: the README's
# own command, run verbatim in tests/test_readme.py.


def test_a_joblib_multirun_of_four(tmp_path: Path) -> None:
    proc = run_cli(
        "-m",
        "hydra/launcher=joblib",
        "hydra.launcher.n_jobs=2",
        "predictor=random,constant,linear_features,bow_lr",
        "quiet=true",
        f"results.dir={tmp_path}/r",
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    runs = run_dirs(tmp_path / "r")
    assert len(runs) == 4 and all((r / "metrics.json").is_file() for r in runs)
    assert "4 job(s) done, 0 failed" in proc.stdout


def test_a_failing_job_leaves_the_others_intact(tmp_path: Path) -> None:
    proc = run_cli(
        "-m",
        "predictor=random,replay,constant",
        "quiet=true",
        f"results.dir={tmp_path}/r",
        cwd=tmp_path,
    )
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "pricebench: error: the replay predictor needs predictor.path" in proc.stderr
    assert "2 job(s) done, 1 failed" in proc.stdout
    assert "failed: predictor=replay" in proc.stdout
    runs = run_dirs(tmp_path / "r")
    assert sorted(read_json(r / "metrics.json")["predictor"] for r in runs) == [
        "constant",
        "random",
    ]
    for run in runs:
        assert len((run / "predictions.jsonl").read_text().splitlines()) == 250


BROKEN = """
class Broken:
    def __init__(self, **settings):
        pass

    def fit(self, items):
        pass

    def predict(self, items):
        raise RuntimeError("a defect in this predictor")
"""


def test_a_job_that_raises_an_unexpected_error_leaves_the_others_and_the_board(
    tmp_path: Path,
) -> None:
    (tmp_path / "brokenpredictor.py").write_text(BROKEN)  # importable: `python -m` adds the cwd
    proc = run_cli(
        "-m",
        "predictor=constant",
        "predictor._target_=brokenpredictor.Broken,predictors.baselines.ConstantPricer",
        "quiet=true",
        f"results.dir={tmp_path}/r",
        cwd=tmp_path,
    )
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert "pricebench: error: unexpected RuntimeError: a defect in this predictor" in proc.stderr
    assert "1 job(s) done, 1 failed" in proc.stdout
    assert len(run_dirs(tmp_path / "r")) == 1


def test_an_optuna_search_chooses_its_sweeper_and_reports_the_best(tmp_path: Path) -> None:
    proc = run_cli(
        "-m",
        "hparams_search=search_bow",  # no hydra/sweeper=optuna: the search file chooses it
        "hydra.sweeper.n_trials=3",
        f"results.dir={tmp_path}/r",
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    runs = run_dirs(tmp_path / "r")
    assert len(runs) == 3
    errors = {read_json(r / "metrics.json")["error"] for r in runs}
    sweep = sweep_dir(tmp_path)
    best = read_json(sweep / "best.json")
    assert best["error"] == min(errors)
    results = yaml.safe_load((sweep / "optimization_results.yaml").read_text())
    assert "predictor.max_features" in results["best_params"]
    assert results["best_value"] == min(errors)  # the task returned the optimised metric, error
    assert f"error=${best['error']:,.2f}" in proc.stdout


def test_a_seed_sweep_aggregates_to_mean_and_sd(tmp_path: Path) -> None:
    proc = run_cli(
        "-m",
        "+experiment=seeds",
        "predictor=random",
        "hydra.sweeper.params={predictor.seed: '1,2,3'}",
        f"results.dir={tmp_path}/r",
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    seeds = sorted(
        json.loads(json.dumps(read_json(r / "metrics.json")))["error"]
        for r in run_dirs(tmp_path / "r")
    )
    assert len(seeds) == 3 and len(set(seeds)) == 3
    from harness import leaderboard

    (row,) = leaderboard.build(
        leaderboard.load_runs(tmp_path / "r"), aggregate="mean", reported=False
    ).ranked
    assert row["runs"] == 3 and row["error"] == pytest.approx(sum(seeds) / 3)


def test_submitit_local_runs_a_two_job_sweep(tmp_path: Path) -> None:
    proc = run_cli(
        "-m",
        "hydra/launcher=submitit_local",
        "predictor=random,constant",
        "quiet=true",
        f"results.dir={tmp_path}/r",
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert len(run_dirs(tmp_path / "r")) == 2
    assert "2 job(s) done, 0 failed" in proc.stdout
    assert list((sweep_dir(tmp_path) / ".submitit").iterdir())  # submitit ran the jobs


def test_the_optimised_metric_names_the_best_job(tmp_path: Path) -> None:
    proc = run_cli(
        "-m",
        "predictor=random,constant",
        "optimized_metric=hit_rate",
        "quiet=true",
        f"results.dir={tmp_path}/r",
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    by_hits = {
        m["predictor"]: m["hit_rate"]
        for m in (read_json(r / "metrics.json") for r in run_dirs(tmp_path / "r"))
    }
    winner = max(by_hits, key=by_hits.__getitem__)
    assert by_hits[winner] > min(by_hits.values())  # a real choice, not a tie
    (best,) = [line for line in proc.stdout.splitlines() if line.startswith("best: ")]
    assert best.startswith(f"best: predictor={winner} ")
    assert best.endswith(f" hit_rate={by_hits[winner]:.1%}")
    assert read_json(sweep_dir(tmp_path) / "best.json")["overrides"][0] == f"predictor={winner}"
