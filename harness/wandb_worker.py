"""The W&B side of an evaluation, run in a child process that ``WandbTracker`` starts early.

While the evaluation runs, the child imports wandb and starts its service on the other core;
when the results folder is written, it reads one JSON job from stdin, logs the run from that
folder and exits. A failure here is printed as one warning line and never touches the results.

Lineage: every evaluation run uses the test set as a ``dataset`` artifact named from its
fingerprint (``testset-<12 hex>``; the same items give the same digest, so W&B keeps one version),
and logs its results folder as an ``evaluation`` artifact named per predictor configuration
(``eval-<predictor>-<8 hex of the redacted predictor config>``), so evaluations of one
configuration are versions of one artifact. The config records the git commit and dirty flag of
the pricebench source and, for a fine-tuned model, the W&B run of its fine-tuning job.
"""

from __future__ import annotations

import contextlib
import hashlib
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
SUMMARY_SKIP = ("versions",)
TESTSET_FILE = "testset.jsonl"
TESTSET_COLUMNS = ("index", "title", "truth")
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


def testset_artifact_name(fingerprint: str) -> str:
    """The W&B name of the test set a run scored: ``testset-`` and 12 hex of its fingerprint."""
    return f"testset-{results.slug(str(fingerprint))[:12]}"


def config_hash(predictor_config: Any) -> str:
    """8 hex of the predictor's resolved config (already redacted: no key reaches the hash)."""
    text = json.dumps(predictor_config, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def evaluation_artifact_name(predictor: str, predictor_config: Any) -> str:
    """One name per predictor configuration, so that its evaluations are versions of one artifact:
    ``eval-<predictor>-<config_hash>``."""
    return f"eval-{results.slug(predictor)[:40]}-{config_hash(predictor_config)}"


def finetune_job_of(predictor_config: Any) -> str | None:
    """The fine-tuning job whose model the predictor asks: its ``job_id``, else the newest job the
    registry holds for its ``suffix``; None for any other predictor or an unreadable registry."""
    if not isinstance(predictor_config, dict):
        return None
    job_id = predictor_config.get("job_id")
    if isinstance(job_id, str) and job_id:
        return job_id
    suffix, registry = predictor_config.get("suffix"), predictor_config.get("registry")
    if not (isinstance(suffix, str) and suffix and isinstance(registry, str) and registry):
        return None
    from harness.registry import find_job

    try:
        found = find_job(registry, suffix).get("job_id")
    except Exception:  # the evaluation already read it; a registry gone since costs only the link
        return None
    return found if isinstance(found, str) else None


def lineage_config(metrics: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    """What the run's config adds for lineage: the git commit and dirty flag of the pricebench
    source (from metrics.json), the dataset and evaluation artifact names, and the fine-tuning
    job and its W&B run for a fine-tuned model."""
    git = metrics.get("git")
    git = git if isinstance(git, dict) else {}
    predictor_config = config.get("predictor", {})
    extra: dict[str, Any] = {
        "git_commit": git.get("commit"),
        "git_dirty": git.get("dirty"),
        "dataset_artifact": testset_artifact_name(metrics["fingerprint"]),
        "evaluation_artifact": evaluation_artifact_name(metrics["predictor"], predictor_config),
    }
    job_id = finetune_job_of(predictor_config)
    if job_id:
        from finetune.jobs import wandb_run_id

        extra["finetune_job"] = job_id
        extra["finetune_run"] = wandb_run_id(job_id)
    return extra


def log_run(wandb: Any, job: dict[str, Any]) -> None:
    """Open, fill and finish one W&B run for the results folder ``job["run_dir"]``."""
    run_dir = Path(job["run_dir"])
    metrics = results.read_metrics(run_dir)
    records = results.read_predictions(run_dir)
    settings = job["settings"]
    config = {**job["config"], **lineage_config(metrics, job["config"])}
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
            config=config,
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
        _fill(wandb, run, run_dir, metrics, records)
        if settings.get("artifact", True) and job["mode"] != "disabled":
            _lineage(wandb, run, run_dir, metrics, records, config, job["mode"])
    except Exception as exc:
        exit_code = 1
        warn(f"W&B logging failed part-way ({first_line(exc)}); the results folder is intact")
    finally:
        run.finish(exit_code=exit_code)
    _record(run, run_dir, job["mode"], settings["project"])


def _fill(wandb: Any, run: Any, run_dir: Path, metrics: dict[str, Any],
          records: list[dict[str, Any]]) -> None:  # fmt: skip
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


def _lineage(wandb: Any, run: Any, run_dir: Path, metrics: dict[str, Any],
             records: list[dict[str, Any]], config: dict[str, Any], mode: str) -> None:  # fmt: skip
    """Use the test set as a dataset artifact, link a fine-tuned model's training files, and log
    the results folder as this predictor configuration's evaluation artifact."""
    testset = wandb.Artifact(
        name=config["dataset_artifact"],
        type="dataset",
        description="The fixed test items a pricebench evaluation scores (index, title, truth)",
        metadata={"fingerprint": metrics["fingerprint"], "canonical": metrics.get("canonical"),
                  "edition": edition_of(metrics), "n": len(records)},
    )  # fmt: skip
    with testset.new_file(TESTSET_FILE, mode="w", encoding="utf-8") as f:
        for record in records:
            row = {c: record[c] for c in TESTSET_COLUMNS}
            f.write(json.dumps(row, sort_keys=True, ensure_ascii=False) + "\n")
    use_artifact(run, testset, mode)
    if mode == "online" and config.get("finetune_run"):
        # Its training files, when the fine-tuning run logged them; the config keeps the link
        # (finetune_run) either way.
        with contextlib.suppress(Exception):
            run.use_artifact(f"finetune-files-{config['finetune_run']}:latest")
    evaluation = wandb.Artifact(
        name=config["evaluation_artifact"],
        type="evaluation",
        metadata={k: metrics[k] for k in ARTIFACT_KEYS if k in metrics}
        | {"edition": edition_of(metrics), "run_dir": run_dir.name,
           "predictor_config": config.get("predictor"), "dataset": config["dataset_artifact"],
           "git_commit": config.get("git_commit"), "git_dirty": config.get("git_dirty")},
    )  # fmt: skip
    evaluation.add_dir(str(run_dir))
    run.log_artifact(evaluation, aliases=["latest"])


def use_artifact(run: Any, artifact: Any, mode: str) -> None:
    """Record ``artifact`` (a new, unlogged one) as an input of ``run``. Online this is
    ``run.use_artifact``; offline wandb refuses ``use_artifact`` (it needs the server), so the
    artifact is written to the offline run the way ``use_artifact`` logs a new artifact (marked
    to be used once committed), and ``wandb sync`` then logs it and marks it used."""
    if mode != "offline":
        run.use_artifact(artifact)
        return
    log_as_input = getattr(run, "_log_artifact", None)
    if log_as_input is None:  # a wandb without it: the run's config still names the dataset
        return
    log_as_input(artifact, is_user_created=True, use_after_commit=True)


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
