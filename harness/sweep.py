"""Multirun support: each job notes its outcome in its Hydra output folder, and a Hydra callback
prints (and saves) the sweep's leaderboard when the sweep ends, with any failed job reported.

Hydra instantiates the callback for every run, so this module imports the harness lazily."""

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
    """Write this job's outcome where the end-of-sweep callback will find it: its overrides,
    status, run folder, error message and the figures of the leaderboard's metrics."""
    from harness.metrics import CI_METRICS

    outcome: dict[str, Any] = {"overrides": overrides, "status": "failed" if error else "ok"}
    if run_dir is not None:
        outcome["run_dir"] = str(Path(run_dir).resolve())
    if error:
        outcome["error"] = error
    if metrics:
        outcome.update({k: metrics[k] for k in CI_METRICS if k in metrics})
    results.write_json(Path(output_dir) / JOB_FILE, outcome)


def read_jobs(sweep_dir: str | Path) -> list[dict[str, Any]]:
    """Every job outcome recorded under ``sweep_dir``, in path order."""
    jobs = []
    for path in sorted(Path(sweep_dir).glob(f"**/{JOB_FILE}")):
        jobs.append(json.loads(path.read_text()))
    return jobs


def best_job(jobs: list[dict[str, Any]], metric: str) -> tuple[dict[str, Any], float]:
    """The finished job with the best value of ``metric`` (read from its run's metrics.json when
    its outcome does not hold it), and that value; ValueError when there is none."""
    from harness import leaderboard
    from harness.metrics import METRICS

    if metric not in METRICS:
        raise ValueError(f"{metric!r} is not a metric: use one of {', '.join(METRICS)}")

    def value(job: dict[str, Any]) -> float | None:
        if metric in job:
            return job[metric]
        run = leaderboard.load_run(job["run_dir"]) if job.get("run_dir") else None
        return run.metrics.get(metric) if run else None

    scored = [(job, v) for job in jobs if (v := value(job)) is not None]
    if not scored:
        raise ValueError(f"no finished job has a value of {metric}")
    return min(scored, key=lambda pair: METRICS[metric].sort_key(pair[1]))


class SweepLeaderboard(Callback):
    """At the end of a multirun: the sweep's leaderboard (the same code as
    ``pricebench-leaderboard``), its best job (by the config's ``optimized_metric`` when it sets
    one, else by the leaderboard's order), and its failed jobs; saved in the sweep folder."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        from harness import leaderboard, leaderboard_format
        from harness.metrics import METRICS, RANK_BY

        sweep_dir = Path(config.hydra.sweep.dir)
        metric = config.get("optimized_metric") or RANK_BY
        jobs = read_jobs(sweep_dir)
        done = [j for j in jobs if j["status"] == "ok"]
        failed = [j for j in jobs if j["status"] == "failed"]
        runs = [run for job in done if (run := leaderboard.load_run(job["run_dir"]))]
        lines = [f"sweep {sweep_dir}: {len(done)} job(s) done, {len(failed)} failed"]
        if runs:
            board = leaderboard.build(runs, reported=False, n_boot=500)
            text = leaderboard_format.markdown(board)
            results.write_text(sweep_dir / "leaderboard.md", text)
            lines += ["", text.rstrip(), ""]
            try:
                best, value = best_job(done, metric)
            except ValueError as exc:
                lines.append(f"no best job: {exc} (saved {sweep_dir / 'leaderboard.md'})")
            else:
                results.write_json(sweep_dir / "best.json", best)
                lines += [
                    f"best: {' '.join(best['overrides'])} {metric}={METRICS[metric].format(value)}",
                    f"(saved {sweep_dir / 'leaderboard.md'} and best.json)",
                ]
        for job in failed:
            lines.append(f"failed: {' '.join(job['overrides'])}: {job['error']}")
        print("\n".join(lines), flush=True)
        if failed:
            sys.exit(1)  # the other jobs' results are complete; the exit code tells of the failure
