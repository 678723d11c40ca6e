from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from tests.forked import Started

ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = ROOT.parent / "shared" / "data" / "pricer"
REFERENCE_DIR = DATA_DIR / "reference"


def reported() -> dict[str, dict[str, str]]:
    """The course's published rows, keyed by predictor name."""
    with (DATA_DIR / "reported.csv").open(newline="") as f:
        return {row["predictor"]: row for row in csv.DictReader(f)}


def reported_line(name: str) -> str:
    row = reported()[name]
    return f"Error=${float(row['error']):,.2f} RMSLE={row['rmsle']} Hits={row['hits_pct']}%"


# The longest tests (tens of seconds each on the 2-core machine) start first, in this order, so
# that the two workers do not end the suite waiting on one of them. The first, with its four
# siblings beside it, shares the fitted baselines' runs (tests/test_cli.py's offline_runs), all
# started at once: kept together, they are started once, by one worker.
LONGEST_FIRST = (
    "test_each_fitted_baseline_runs_end_to_end_on_the_offline_pool[random_forest]",
    "test_each_fitted_baseline_runs_end_to_end_on_the_offline_pool",
    "test_on_the_canonical_250_the_ensemble_is_no_worse_than_its_best_member",
    "test_every_provider_config_scores_the_served_guesses_with_its_own_key",
    "test_the_set_up_and_running_sections_work_verbatim_in_a_clean_shell",
)


def _longest_first(item: pytest.Item) -> int:
    for rank, name in enumerate(LONGEST_FIRST):
        if name in (item.name, getattr(item, "originalname", None)):
            return rank
    return len(LONGEST_FIRST)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=_longest_first)  # stable: the rest keep their order


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """A parametrised test whose parameters came out empty (say, read from data that is missing)
    fails instead of being skipped, which ``-ra`` reports only in passing."""
    for mark in item.iter_markers("skip"):
        if str(mark.kwargs.get("reason", "")).startswith("got empty parameter set"):
            pytest.fail(f"{item.name}: {mark.kwargs['reason']}", pytrace=False)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    if not (DATA_DIR / "test.jsonl").is_file():
        pytest.fail(f"benchmark data not found at {DATA_DIR}: clone the project beside ../shared")
    return DATA_DIR


def _cli(
    args: tuple[str, ...], cwd: Path, env: dict[str, str] | None, tracker: str
) -> tuple[list[str], dict[str, str]]:
    full_env = {**os.environ, "PRICEBENCH_DATA": str(DATA_DIR), "NO_COLOR": "1"}
    for name in ("WANDB_MODE", "WANDB_API_KEY", "WANDB_BASE_URL"):
        full_env.pop(name, None)
    full_env.update({"WANDB_DIR": str(cwd), **(env or {})})
    return [sys.executable, "-m", "harness.cli", *args, f"tracker={tracker}"], full_env


def run_cli(
    *args: str, cwd: Path, env: dict[str, str] | None = None, tracker: str = "none"
) -> subprocess.CompletedProcess:
    """Run pricebench in a process of its own, as a user would (W&B writes under ``cwd``),
    forked from one that imported pricebench already (:mod:`tests.forked`)."""
    from tests.forked import run_module

    command, full_env = _cli(args, cwd, env, tracker)
    return run_module(command[2], command[3:], cwd, full_env)


def start_forked(
    *args: str, cwd: Path, env: dict[str, str] | None = None, tracker: str = "none"
) -> Started:
    """:func:`run_cli` without waiting (forked the same way): ``communicate()`` gives its stdout
    and stderr."""
    from tests.forked import start_module

    command, full_env = _cli(args, cwd, env, tracker)
    return start_module(command[2], command[3:], cwd, full_env)


def start_cli(
    *args: str, cwd: Path, env: dict[str, str] | None = None, tracker: str = "none"
) -> subprocess.Popen:
    """:func:`run_cli` without waiting, in a fresh interpreter (for signals to the process it
    starts): ``communicate()`` gives its stdout and stderr."""
    command, full_env = _cli(args, cwd, env, tracker)
    return subprocess.Popen(
        command, cwd=cwd, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def run_dirs(results_dir: Path) -> list[Path]:
    return sorted(p for p in results_dir.iterdir() if p.is_dir())


def only_run(results_dir: Path) -> Path:
    runs = run_dirs(results_dir)
    assert len(runs) == 1, runs
    return runs[0]


def read_json(path: Path) -> dict:
    return json.loads(path.read_text())
