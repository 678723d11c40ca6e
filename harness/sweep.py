"""Multirun support: each job notes its outcome in its Hydra output folder, and a Hydra callback
prints (and saves) the sweep's leaderboard when the sweep ends, with any failed job reported."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from harness import results

JOB_FILE = "pricebench_job.json"


def record_job(
    output_dir: str | Path,
    overrides: list[str],
    run_dir: Path | None = None,
    error: str | None = None,
    metrics: dict[str, Any] | None = None,
) -> None:
    """Write this job's outcome where the end-of-sweep callback will find it."""
    outcome: dict[str, Any] = {"overrides": overrides, "status": "failed" if error else "ok"}
    if run_dir is not None:
        outcome["run_dir"] = str(Path(run_dir).resolve())
    if error:
        outcome["error"] = error
    if metrics:
        outcome.update({k: metrics[k] for k in ("error", "rmsle", "hit_rate") if k in metrics})
    results.write_json(Path(output_dir) / JOB_FILE, outcome)


def read_jobs(sweep_dir: str | Path) -> list[dict[str, Any]]:
    jobs = []
    for path in sorted(Path(sweep_dir).glob(f"**/{JOB_FILE}")):
        jobs.append(json.loads(path.read_text()))
    return jobs


class SweepLeaderboard(Callback):
    """At the end of a multirun: the sweep's leaderboard (the same code as
    ``pricebench-leaderboard``), its best job, and its failed jobs; saved in the sweep folder."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        from harness import leaderboard, leaderboard_format

        sweep_dir = Path(config.hydra.sweep.dir)
        jobs = read_jobs(sweep_dir)
        done = [j for j in jobs if j["status"] == "ok"]
        failed = [j for j in jobs if j["status"] == "failed"]
        runs = [run for job in done if (run := leaderboard.load_run(job["run_dir"]))]
        lines = [f"sweep {sweep_dir}: {len(done)} job(s) done, {len(failed)} failed"]
        if runs:
            board = leaderboard.build(runs, reported=False, n_boot=500)
            text = leaderboard_format.markdown(board)
            results.write_text(sweep_dir / "leaderboard.md", text)
            best = min(done, key=lambda j: j.get("error", float("inf")))
            results.write_json(sweep_dir / "best.json", best)
            lines += [
                "",
                text.rstrip(),
                "",
                f"best: {' '.join(best['overrides'])} error=${best['error']:,.2f}",
                f"(saved {sweep_dir / 'leaderboard.md'} and best.json)",
            ]
        for job in failed:
            lines.append(f"failed: {' '.join(job['overrides'])}: {job['error']}")
        print("\n".join(lines), flush=True)
        if failed:
            sys.exit(1)  # the other jobs' results are complete; the exit code tells of the failure
