"""Multirun support: each job notes its outcome in its Hydra output folder, and a Hydra callback
prints (and saves) the sweep's leaderboard when the sweep ends, with any failed job reported.

Hydra instantiates the callback for every run, so this module imports the harness lazily."""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable
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
    """Every job outcome recorded under ``sweep_dir``, in path order; a record that cannot be read
    (not JSON, not an object, no status) is left out with one warning line naming it."""
    from harness.errors import warn

    jobs = []
    for path in sorted(Path(sweep_dir).glob(f"**/{JOB_FILE}")):
        try:
            job = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            why = "not valid JSON (truncated?)" if isinstance(exc, ValueError) else str(exc)
            warn(f"skipped job record {path}: {why}")
            continue
        if not isinstance(job, dict):
            warn(f"skipped job record {path}: not a JSON object")
        elif job.get("status") not in ("ok", "failed"):
            warn(f"skipped job record {path}: its status is not ok or failed")
        else:
            jobs.append(job)
    return jobs


def _overrides(job: dict[str, Any]) -> str:
    overrides = job.get("overrides")
    return " ".join(map(str, overrides)) if isinstance(overrides, list) else "(no overrides)"


def best_job(jobs: list[dict[str, Any]], metric: str) -> tuple[dict[str, Any], float]:
    """The finished job with the best value of ``metric`` (read from its run's metrics.json when
    its outcome does not hold it), and that value; ValueError when there is none."""
    from harness import leaderboard
    from harness.metrics import METRICS

    if metric not in METRICS:
        raise ValueError(f"{metric!r} is not a metric: use one of {', '.join(METRICS)}")

    def value(job: dict[str, Any]) -> float | None:
        if metric in job:
            found = job[metric]
        else:
            run = leaderboard.load_run(job["run_dir"]) if job.get("run_dir") else None
            found = run.metrics.get(metric) if run else None
        is_number = isinstance(found, int | float) and not isinstance(found, bool)
        return found if is_number and math.isfinite(found) else None

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
        from harness.errors import warn
        from harness.metrics import METRICS, RANK_BY

        sweep_dir = Path(config.hydra.sweep.dir)
        metric = config.get("optimized_metric") or RANK_BY
        jobs = read_jobs(sweep_dir)
        done = [j for j in jobs if j["status"] == "ok"]
        failed = [j for j in jobs if j["status"] == "failed"]
        readable: list[tuple[dict[str, Any], leaderboard.Run]] = []
        for job in done:  # a run folder that cannot be read is one warning, not the sweep's end
            if not job.get("run_dir"):
                warn(f"skipped job {_overrides(job)}: its record names no run folder")
            elif run := leaderboard.load_run(job["run_dir"]):
                readable.append((job, run))
        lines = [f"sweep {sweep_dir}: {len(done)} job(s) done, {len(failed)} failed"]
        if readable:
            board = leaderboard.build([run for _, run in readable], reported=False, n_boot=500)
            text = leaderboard_format.markdown(board)
            saved = _save(sweep_dir / "leaderboard.md", lambda p: results.write_text(p, text))
            lines += ["", text.rstrip(), ""]
            try:
                best, value = best_job([job for job, _ in readable], metric)
            except ValueError as exc:
                lines.append(f"no best job: {exc}" + (f" (saved {saved})" if saved else ""))
            else:
                kept = _save(sweep_dir / "best.json", lambda p: results.write_json(p, best))
                lines.append(f"best: {_overrides(best)} {metric}={METRICS[metric].format(value)}")
                if saved and kept:
                    lines.append(f"(saved {saved} and best.json)")
        elif done:
            lines.append("no readable run: no leaderboard")
        for job in failed:
            lines.append(f"failed: {_overrides(job)}: {job.get('error') or '(no error recorded)'}")
        print("\n".join(lines), flush=True)
        if failed:
            sys.exit(1)  # the other jobs' results are complete; the exit code tells of the failure


def _save(path: Path, write: Callable[[Path], object]) -> Path | None:
    """Write a file of the sweep's summary; None, and one warning line, when it cannot be."""
    from harness.errors import warn

    try:
        write(path)
    except OSError as exc:
        warn(f"could not save {path}: {exc.strerror or exc}")
        return None
    return path
