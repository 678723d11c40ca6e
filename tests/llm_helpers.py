"""What the LLM predictor tests share: a fake key, the course prompts, running the CLI against a
loopback server, and reading what a run wrote or said."""

from __future__ import annotations

import functools
import subprocess
from pathlib import Path

from harness import results
from harness.data import load_dataset
from predictors.prompts import build_messages
from tests.conftest import DATA_DIR, run_cli

KEY = "sk-" + "test-THISKEYMUSTNEVERLEAVETHEPROCESS0000"  # fake, built so no scanner flags it


@functools.cache
def course_prompts() -> dict[str, int]:
    """The user message the course's prompt sends for each fixed-set item, to its index."""
    items = load_dataset(str(DATA_DIR), need_train=False).test
    return {build_messages(item)[1]["content"]: item.index for item in items}


def run_llm(
    tmp_path: Path,
    base_url: str,
    *args: str,
    predictor: str = "gpt-4o-mini",
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess:
    """``pricebench predictor=... quiet=true`` against ``base_url``, cache and results in
    ``tmp_path``, without the chart (matplotlib, up to a second per run, and no LLM test looks
    at it); later ``args`` and ``env`` win."""
    return run_cli(
        f"predictor={predictor}", f"predictor.base_url={base_url}", "quiet=true", "chart=false",
        f"cache.dir={tmp_path}/cache", f"results.dir={tmp_path}/r", *args,
        cwd=tmp_path, env={"OPENAI_API_KEY": KEY, **(env or {})},
    )  # fmt: skip


def latest_run(tmp_path: Path) -> Path:
    """The run under ``tmp_path/r`` that finished last. Not the last folder by name: two runs
    started in the same second sort by their random suffix."""
    runs = results.finished_runs(tmp_path / "r")
    return max(runs, key=lambda run: (run / results.METRICS_FILE).stat().st_mtime_ns)


def latest_metrics(tmp_path: Path) -> dict:
    return results.read_metrics(latest_run(tmp_path))


def no_run(tmp_path: Path, folder: str = "r") -> bool:
    """Whether no run was stored under ``tmp_path/folder`` (the folder itself may exist: a run
    checks that it can write there before anything is paid for)."""
    results_dir = tmp_path / folder
    return not results_dir.exists() or not any(results_dir.iterdir())


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("pricebench: error:")]
