"""Ctrl-C is quiet (issue 12, row 9): an LLM run tracked in W&B and interrupted from the terminal
ends with exit 130 and one line, and neither pricebench nor its W&B worker prints a traceback."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from harness.tracking import TrackingInterrupted
from tests.conftest import DATA_DIR, ROOT, only_run, run_cli
from tests.llm_helpers import KEY
from tests.openai_server import FakeOpenAI

INTERRUPTED = (
    "pricebench: error: interrupted; no results were written for this run (LLM replies received "
    "so far are cached, so a rerun resumes where this one stopped)"
)


def _interrupted_llm_run(tmp_path: Path) -> subprocess.CompletedProcess:
    """``pricebench predictor=gpt-4o-mini tracker=wandb`` (offline, W&B under tmp_path) against a
    server that takes 60 s per reply; Ctrl-C as a terminal sends it, to the whole process group,
    once the first request arrived."""
    env = {**os.environ, "PRICEBENCH_DATA": str(DATA_DIR), "NO_COLOR": "1", "OPENAI_API_KEY": KEY,
           "WANDB_MODE": "offline", "WANDB_DIR": str(tmp_path)}  # fmt: skip
    env.pop("WANDB_API_KEY", None)
    with FakeOpenAI(latency=60) as server:
        command = [
            sys.executable, "-m", "harness.cli", "predictor=gpt-4o-mini", "tracker=wandb",
            f"predictor.base_url={server.base_url}", "quiet=true", "chart=false",
            f"cache.dir={tmp_path}/cache", f"results.dir={tmp_path}/r",
        ]  # fmt: skip
        proc = subprocess.Popen(
            command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, start_new_session=True,  # its own process group, as a terminal's job
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 120
            while not server.requests and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.05)
            assert server.requests, "no request arrived"
            os.killpg(proc.pid, signal.SIGINT)
            out, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    return subprocess.CompletedProcess(command, proc.returncode, out, err)


@pytest.fixture(scope="module")
def interrupted(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, subprocess.CompletedProcess]:
    tmp_path = tmp_path_factory.mktemp("interrupted")
    return tmp_path, _interrupted_llm_run(tmp_path)


@pytest.mark.slow
def test_ctrl_c_during_a_tracked_llm_run_stops_the_wandb_worker_quietly(interrupted) -> None:
    tmp_path, done = interrupted
    assert done.returncode == 130, done.stderr
    # the W&B worker is outside the terminal's process group: Ctrl-C reaches pricebench only,
    # which stops the worker before it opened a run
    assert "wandb_worker" not in done.stderr and "KeyboardInterrupt" not in done.stderr, done.stderr
    assert [line for line in done.stderr.splitlines() if line.startswith("pricebench:")] == [
        INTERRUPTED
    ]
    assert not (tmp_path / "r").exists() or not any((tmp_path / "r").iterdir())
    assert not (tmp_path / "wandb").exists()  # no W&B run for a run that was not stored


@pytest.mark.slow
def test_ctrl_c_during_a_tracked_llm_run_is_one_line_and_no_traceback(interrupted) -> None:
    _, done = interrupted  # the LLM predictor's part too (predictors/llm.py: its event loop)
    assert "Traceback" not in done.stdout + done.stderr, done.stdout + done.stderr
    assert done.stderr.splitlines() == [INTERRUPTED]
    assert done.stdout == ""


class InterruptedWhileLogging:
    """A tracker that Ctrl-C interrupts while it logs the stored run (as W&B can be)."""

    def start(self) -> None:
        return None

    def close(self) -> None:
        return None

    def log_run(self, run_dir: Path, *args: Any, **kwargs: Any) -> None:
        raise TrackingInterrupted(run_dir)


@pytest.mark.slow
def test_ctrl_c_while_tracking_says_the_results_are_stored(tmp_path: Path) -> None:
    proc = run_cli(
        "predictor=constant", "quiet=true", "chart=false", f"results.dir={tmp_path}/r",
        f"tracker._target_={__name__}.InterruptedWhileLogging",
        cwd=tmp_path, env={"PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    run = only_run(tmp_path / "r")
    assert proc.returncode == 130 and "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr.splitlines() == [
        f"pricebench: error: interrupted while logging the run to W&B; its results in {run} are "
        "complete"
    ]
    assert (run / "metrics.json").is_file()
