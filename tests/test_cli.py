"""End to end through the `pricebench` command: the course's exact lines, the results store, and
one clear line for every bad input."""

from __future__ import annotations

import functools
import json
import os
import pickle
import subprocess
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import pytest

from harness import results
from harness.data import CANONICAL_FINGERPRINT
from tests.conftest import (
    REFERENCE_DIR,
    only_run,
    read_json,
    reported_line,
    run_cli,
    start_forked,
)
from tests.forked import Started

pytestmark = pytest.mark.slow
# The course's recorded runs (../shared/data/pricer/reference/*.csv), named here rather than
# globbed, so that missing data fails these tests instead of leaving nothing to run.
RECORDINGS = ["constant", "gpt-4o-mini", "gpt-4o-mini-fine-tuned", "human", "random"]
# What each fitted baseline scores at its real settings on the 1,999-item offline pool: the
# README's table of the course's predictors measured offline.
OFFLINE_LINES = {
    "linear_features": "Error=$133.29 RMSLE=1.15 Hits=19.6%",
    "bow_lr": "Error=$152.75 RMSLE=1.81 Hits=24.8%",
    "word2vec_lr": "Error=$126.50 RMSLE=1.17 Hits=31.6%",
    "svr": "Error=$138.04 RMSLE=1.14 Hits=19.6%",
    "random_forest": "Error=$147.87 RMSLE=1.20 Hits=18.0%",
}


def _ok(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def _error(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode != 0, proc.stdout
    assert "Traceback" not in proc.stderr + proc.stdout
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    return lines[0]


def _stop(procs: Iterable[Started]) -> None:
    """End what a failed test left running, and reap it."""
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()


@pytest.fixture(scope="module")
def random_run(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> tuple[str, Path]:
    """``pricebench predictor=random predictor.seed=42``: what it printed, and the run it stored."""
    tmp_path = tmp_path_factory.mktemp("random")
    out = _ok(
        run_cli("predictor=random", "predictor.seed=42", f"results.dir={tmp_path}/r", cwd=tmp_path)
    )
    return out, only_run(tmp_path / "r")


def test_random_seed_42_prints_the_course_line_and_stores_the_run(
    random_run: tuple[str, Path],
) -> None:
    out, run = random_run
    assert f"random {reported_line('random')}" in out.splitlines()
    assert sorted(p.name for p in run.iterdir()) == [
        "chart.png", "config.yaml", "metrics.json", "predictions.jsonl",
    ]  # fmt: skip
    metrics = read_json(run / "metrics.json")
    assert f"{metrics['error']:.2f}" == "340.74" and f"{metrics['rmsle']:.2f}" == "1.72"
    assert metrics["hit_rate"] == 0.116 and metrics["n"] == 250
    assert metrics["summary_line"] == f"random {reported_line('random')}"
    assert metrics["fingerprint"] == CANONICAL_FINGERPRINT and metrics["canonical"] is True
    assert metrics["predictor"] == "random"
    assert {"load_seconds", "fit_seconds", "predict_seconds", "total_seconds"} <= metrics[
        "timings"
    ].keys()
    assert metrics["versions"]["numpy"] and metrics["versions"]["python"]
    assert set(metrics["git"]) == {"commit", "dirty"}
    records = results.read_predictions(run)
    assert len(records) == 250
    assert set(records[0]) >= {"index", "title", "truth", "guess", "error", "sle", "colour"}
    assert records[0]["guess"] == 655.0  # the recorded course run's first random guess
    assert (run / "chart.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "seed: 42" in (run / "config.yaml").read_text()


def test_constant_220_46_prints_the_course_line(tmp_path: Path) -> None:
    out = _ok(run_cli("predictor=constant", "predictor.value=220.46", "quiet=true",
                      f"results.dir={tmp_path}/r", cwd=tmp_path))  # fmt: skip
    assert out.splitlines()[0] == f"constant {reported_line('constant')}"
    assert read_json(only_run(tmp_path / "r") / "metrics.json")["train"]["n"] == 0  # no fit needed


@pytest.fixture(scope="module")
def replayed(
    tmp_path_factory: pytest.TempPathFactory, data_dir: Path
) -> Iterator[Callable[[str], tuple[str, Path]]]:
    """``pricebench predictor=replay`` of each recording, all started at once and run once in
    this module: what one printed, and the run it stored."""
    started = {}
    for name in RECORDINGS:
        tmp_path = tmp_path_factory.mktemp(f"replay-{name}")
        path = REFERENCE_DIR / f"{name}.csv"
        proc = start_forked("predictor=replay", f"predictor.path={path}",
                         f"results.dir={tmp_path}/r", cwd=tmp_path)  # fmt: skip
        started[name] = proc, tmp_path / "r"

    @functools.cache
    def replay(name: str) -> tuple[str, Path]:
        proc, results_dir = started[name]
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        return out, only_run(results_dir)

    yield replay
    _stop(proc for proc, _ in started.values())


def test_every_recording_is_replayed(data_dir: Path) -> None:
    assert sorted(p.stem for p in (data_dir / "reference").glob("*.csv")) == RECORDINGS


@pytest.mark.parametrize("name", RECORDINGS)
def test_replaying_each_recording_prints_its_published_line(replayed: Callable, name: str) -> None:
    out, run = replayed(name)
    assert f"{name} {reported_line(name)}" in out.splitlines()
    metrics = read_json(run / "metrics.json")
    assert metrics["summary_line"] == f"{name} {reported_line(name)}"


def test_per_item_lines_follow_the_course(replayed: Callable) -> None:
    out, _ = replayed("human")
    lines = out.splitlines()
    assert lines[0] == (
        "1: Guess: $120.00 Truth: $374.41 Error: $254.41 SLE: 1.28 "
        "Item: OEM AC Compressor w/A/C Repair Kit For F..."
    )
    assert lines[249].startswith("250: Guess: ")
    assert "\033[" not in out  # NO_COLOR / not a terminal


def test_colour_can_be_forced(tmp_path: Path) -> None:
    out = _ok(
        run_cli("predictor=random", "color=always", f"results.dir={tmp_path}/r", cwd=tmp_path)
    )
    assert out.startswith("\033[91m1: Guess: $655.00")


def test_fitted_constant_uses_the_offline_training_pool(tmp_path: Path) -> None:
    out = _ok(
        run_cli("predictor=constant", "quiet=true", f"results.dir={tmp_path}/r", cwd=tmp_path)
    )
    assert "dropped 1 training item(s)" in out
    metrics = read_json(only_run(tmp_path / "r") / "metrics.json")
    assert metrics["train"] == {
        "n": 1999, "source": metrics["train"]["source"], "dropped_overlap": 1,
    }  # fmt: skip
    guesses = {r["guess"] for r in results.read_predictions(only_run(tmp_path / "r"))}
    assert len(guesses) == 1 and 150 < guesses.pop() < 260


def test_a_smaller_set_is_marked_non_canonical(tmp_path: Path) -> None:
    out = _ok(
        run_cli(
            "predictor=random",
            "data.size=100",
            "quiet=true",
            f"results.dir={tmp_path}/r",
            cwd=tmp_path,
        )
    )
    assert "not the canonical 250-item test set" in out
    metrics = read_json(only_run(tmp_path / "r") / "metrics.json")
    assert (metrics["n"], metrics["canonical"]) == (100, False)


def test_the_pickle_scores_like_the_jsonl(tmp_path: Path, data_dir: Path) -> None:
    out = _ok(run_cli("predictor=random", f"data.path={data_dir / 'test.pkl'}", "quiet=true",
                      f"results.dir={tmp_path}/r", cwd=tmp_path))  # fmt: skip
    assert out.splitlines()[0] == f"random {reported_line('random')}"
    assert read_json(only_run(tmp_path / "r") / "metrics.json")["canonical"] is True


def test_missing_data_says_how_to_get_it(tmp_path: Path) -> None:
    line = _error(run_cli("data.path=/nowhere", f"results.dir={tmp_path}/r", cwd=tmp_path))
    assert line.startswith("pricebench: error: data path /nowhere does not exist")
    assert "PRICEBENCH_DATA" in line and not (tmp_path / "r").exists()


def test_malformed_jsonl_is_one_line_naming_file_and_line(tmp_path: Path, data_dir: Path) -> None:
    lines = (data_dir / "test.jsonl").read_text().splitlines()[:300]
    lines[41] = lines[41][:50]
    (tmp_path / "test.jsonl").write_text("\n".join(lines) + "\n")
    line = _error(run_cli(f"data.path={tmp_path}", cwd=tmp_path))
    assert f"{tmp_path / 'test.jsonl'}:42: malformed JSON" in line


def test_a_replay_lacking_items_is_one_line(tmp_path: Path) -> None:
    short = tmp_path / "short.csv"
    short.write_text("\n".join((REFERENCE_DIR / "human.csv").read_text().splitlines()[:201]) + "\n")
    line = _error(
        run_cli(
            "predictor=replay", f"predictor.path={short}", f"results.dir={tmp_path}/r", cwd=tmp_path
        )
    )
    assert "no guess for 50 of the 250 items (first: item 200" in line
    assert not (tmp_path / "r").exists()


def test_a_malicious_pickle_is_refused_in_one_line(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    (tmp_path / "test.pkl").write_bytes(pickle.dumps([_Touch(str(marker))]))
    line = _error(run_cli(f"data.path={tmp_path / 'test.pkl'}", cwd=tmp_path))
    assert "only the course's items.Item is allowed" in line and not marker.exists()


class _Touch:
    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (os.system, (f"touch {self.path}",))


def test_an_unknown_config_key_is_refused_without_a_traceback(tmp_path: Path) -> None:
    proc = run_cli("predictor.sed=42", cwd=tmp_path)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert "sed" in proc.stderr


def test_help_explains_the_command(tmp_path: Path) -> None:
    exe = Path(sys.executable).parent / "pricebench"  # the console script beside this Python
    assert exe.is_file(), "the pricebench console script is not installed"
    out = subprocess.run(
        [exe, "--help"], capture_output=True, text=True, cwd=tmp_path, check=True
    ).stdout
    assert "fixed 250-item test set" in out and "predictor: " in out and "PRICEBENCH_DATA" in out


def test_config_in_the_store_resolves_the_data_path(
    random_run: tuple[str, Path], data_dir: Path
) -> None:
    _, run = random_run
    config = (run / "config.yaml").read_text()
    assert f"path: {data_dir}" in config and "${" not in config
    assert json.loads((run / "metrics.json").read_text())["title"] == "random"


@pytest.fixture(scope="session")  # once per worker, even if its tests here are not contiguous
def offline_runs(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, data_dir: Path
) -> Iterator[dict[str, tuple[Started, Path]]]:
    """The selected fitted baselines, started side by side by the first test that needs one (the
    suite starts with them, tests/conftest.py's LONGEST_FIRST, so other tests run beside them):
    random_forest keeps both cores busy for ~40 s, and the others mostly fit beside it. Session
    scope: a module fixture would be torn down when the suite moves on to another module after the
    first of these tests, and started again, every baseline fitted twice."""
    test = test_each_fitted_baseline_runs_end_to_end_on_the_offline_pool
    items = [i for i in request.session.items if getattr(i, "function", None) is test]
    selected = [item.callspec.params["name"] for item in items]
    runs = {}
    for name in sorted(selected, key=lambda n: n != "random_forest"):  # the longest first
        tmp_path = tmp_path_factory.mktemp(name)
        proc = start_forked(f"predictor={name}", "quiet=true", f"results.dir={tmp_path}/r",
                         cwd=tmp_path)  # fmt: skip
        runs[name] = proc, tmp_path / "r"
    yield runs
    _stop(proc for proc, _ in runs.values())


@pytest.mark.parametrize("name", OFFLINE_LINES)
def test_each_fitted_baseline_runs_end_to_end_on_the_offline_pool(
    offline_runs: dict[str, tuple[Started, Path]], name: str
) -> None:
    # The one run of each course predictor at its real settings; the unit tests in
    # tests/test_fitted_predictors.py fit smaller versions.
    proc, results_dir = offline_runs[name]
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err
    metrics = read_json(only_run(results_dir) / "metrics.json")
    assert metrics["summary_line"] == f"{name} {OFFLINE_LINES[name]}"
    assert metrics["summary_line"] in out.splitlines()
    assert metrics["canonical"] is True and metrics["n"] == 250
    assert metrics["train"]["n"] == 1999 and metrics["timings"]["fit_seconds"] > 0
    assert metrics["error"] < 340.74  # better than guessing at random
