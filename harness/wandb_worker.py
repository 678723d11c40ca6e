"""The W&B side of an evaluation, run in a child process that ``WandbTracker`` starts early.

While the evaluation runs, the child imports wandb and starts its service on the other core;
when the results folder is written, it reads one JSON job from stdin, logs the run from that
folder and exits. A failure here is printed as one warning line and never touches the results.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from harness import results
from harness.errors import first_line, warn
from harness.metrics import BREAKDOWN_METRICS, CI_METRICS, edition_of
from harness.preflight import unwritable
from harness.stats import breakdown

TABLE_COLUMNS = ("index", "title", "truth", "guess", "error", "sle", "colour")
SUMMARY_SKIP = ("versions", "git")
ARTIFACT_KEYS = ("predictor", "fingerprint", "canonical", "n", *CI_METRICS)


def warm_up() -> Any:
    """Import wandb and start its service before there is anything to log."""
    import wandb
    from wandb import util

    wandb.setup()
    # wandb.log imports pandas (0.3 s) just to ask whether each value is a DataFrame; this
    # process never logs one, so let wandb answer by type name instead.
    if hasattr(util, "pd_available"):
        util.pd_available = False
    return wandb


def summary_of(metrics: dict[str, Any]) -> dict[str, Any]:
    """The run's figures for the W&B summary: every scalar of metrics.json (so every metric of
    the registry, which ``tests/test_wandb_worker.py`` checks), and the timings."""
    return {
        k: v
        for k, v in metrics.items()
        if k not in SUMMARY_SKIP and isinstance(v, int | float | str | bool | dict)
    }


def log_run(wandb: Any, job: dict[str, Any]) -> None:
    """Open, fill and finish one W&B run for the results folder ``job["run_dir"]``."""
    run_dir = Path(job["run_dir"])
    metrics = results.read_metrics(run_dir)
    records = results.read_predictions(run_dir)
    settings = job["settings"]
    # W&B writes under settings["dir"], else $WANDB_DIR, else the current folder; one it cannot
    # write it would silently swap for the system's temporary folder (pricebench checked it
    # before the run, so this is a folder that went away since).
    root = settings.get("dir") or os.environ.get("WANDB_DIR") or os.getcwd()
    problem = unwritable(root, create=True)
    if problem is not None:
        warn(
            f"W&B cannot write to {root} ({problem}); the run was not logged to W&B; "
            f"the results in {run_dir} are complete"
        )
        return
    try:
        run = wandb.init(
            project=settings["project"],
            entity=settings.get("entity"),
            group=settings.get("group"),
            tags=settings.get("tags") or [],
            job_type=settings.get("job_type", "eval"),
            name=job["name"],
            config=job["config"],
            mode=job["mode"],
            dir=settings.get("dir"),
            reinit="finish_previous",
            settings=wandb.Settings(
                init_timeout=settings.get("init_timeout", 30),
                silent=True,
                console="off",
                x_disable_stats=True,
                save_code=False,
                disable_git=True,
            ),  # fmt: skip
        )
    except Exception as exc:  # W&B raises many kinds; none may cost the result
        warn(
            f"W&B did not start ({first_line(exc)}); the results in {run_dir} are complete: log "
            "them later with tracker.mode=offline and `wandb sync`"
        )
        return
    exit_code = 0
    try:
        _fill(wandb, run, run_dir, metrics, records, artifact=settings.get("artifact", True))
    except Exception as exc:
        exit_code = 1
        warn(f"W&B logging failed part-way ({first_line(exc)}); the results folder is intact")
    finally:
        run.finish(exit_code=exit_code)
    _record(run, run_dir, job["mode"], settings["project"])


def _fill(wandb: Any, run: Any, run_dir: Path, metrics: dict[str, Any],
          records: list[dict[str, Any]], artifact: bool) -> None:  # fmt: skip
    run.summary.update(summary_of(metrics))
    rows = [[r[c] for c in TABLE_COLUMNS] for r in records]
    table = wandb.Table(columns=list(TABLE_COLUMNS), rows=rows)
    bands = breakdown(records, by="band")
    band_table = wandb.Table(
        columns=["band", "n", *BREAKDOWN_METRICS],
        rows=[[b["group"], b["n"], *(b[name] for name in BREAKDOWN_METRICS)] for b in bands],
    )
    logged: dict[str, Any] = {
        "predictions": table,
        "truth_vs_guess": wandb.plot.scatter(
            table, "truth", "guess", title=metrics["summary_line"]
        ),
        "error_by_price_band": wandb.plot.bar(
            band_table, "band", "error", title="Mean absolute error by price band"
        ),
    }
    chart = run_dir / results.CHART_FILE
    if chart.is_file():
        logged["chart"] = wandb.Image(str(chart), caption=metrics["summary_line"])
    run.log(logged)
    if artifact:
        evaluation = wandb.Artifact(
            name=f"eval-{results.slug(run_dir.name)}",
            type="evaluation",
            metadata={k: metrics[k] for k in ARTIFACT_KEYS if k in metrics}
            | {"edition": edition_of(metrics)},
        )
        evaluation.add_dir(str(run_dir))
        run.log_artifact(evaluation)


def _record(run: Any, run_dir: Path, mode: str, project: str) -> None:
    if mode == "disabled":
        return
    wandb_dir = Path(run.dir).parent
    info = {"run_id": run.id, "mode": mode, "project": project, "dir": str(wandb_dir)}
    if mode == "offline":
        info["sync"] = f"wandb sync {wandb_dir}"
        print(f"wandb: offline run saved in {wandb_dir}; upload it with: wandb sync {wandb_dir}")
    else:
        info["url"] = run.url
    results.write_json(run_dir / "wandb.json", info)


def main() -> None:
    try:
        _main()
    except KeyboardInterrupt:  # an interrupt sent to this process alone: stop without a word
        sys.exit(130)


def _main() -> None:
    try:
        wandb: Any = warm_up()
    except Exception as exc:
        wandb = exc
    text = sys.stdin.read()
    if not text.strip():
        return  # the evaluation ended without a result: nothing to log
    job = json.loads(text)
    if isinstance(wandb, Exception):
        warn(f"W&B could not be imported ({first_line(wandb)}); results are intact")
        return
    log_run(wandb, job)
    # run.finish() has flushed the run; skip wandb's 0.2 s service teardown at interpreter exit
    # (its service process notices and stops by itself).
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
