from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

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


@pytest.fixture(scope="session")
def data_dir() -> Path:
    if not (DATA_DIR / "test.jsonl").is_file():
        pytest.fail(f"benchmark data not found at {DATA_DIR}: clone the project beside ../shared")
    return DATA_DIR


def run_cli(
    *args: str, cwd: Path, env: dict[str, str] | None = None, tracker: str = "none"
) -> subprocess.CompletedProcess:
    """Run pricebench in a subprocess, as a user would (W&B writes under ``cwd``)."""
    full_env = {**os.environ, "PRICEBENCH_DATA": str(DATA_DIR), "NO_COLOR": "1"}
    for name in ("WANDB_MODE", "WANDB_API_KEY", "WANDB_BASE_URL"):
        full_env.pop(name, None)
    full_env.update({"WANDB_DIR": str(cwd), **(env or {})})
    return subprocess.run(
        [sys.executable, "-m", "harness.cli", *args, f"tracker={tracker}"],
        cwd=cwd, env=full_env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def run_dirs(results_dir: Path) -> list[Path]:
    return sorted(p for p in results_dir.iterdir() if p.is_dir())


def only_run(results_dir: Path) -> Path:
    runs = run_dirs(results_dir)
    assert len(runs) == 1, runs
    return runs[0]


def read_json(path: Path) -> dict:
    return json.loads(path.read_text())
