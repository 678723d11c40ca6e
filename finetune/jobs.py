"""The API side of fine-tuning: upload the prepared files, create the job, follow it and log it
to W&B. The registry of jobs (``results/finetunes.jsonl``) is :mod:`harness.registry`."""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, cast

from harness.errors import PricebenchError, first_line, warn
from harness.secrets import api_key_from_env

TERMINAL = ("succeeded", "failed", "cancelled")
WandbMode = Literal["online", "offline", "disabled", "shared"]


def client_for(base_url: str | None, api_key_env: str | None) -> Any:
    from openai import OpenAI

    return OpenAI(api_key=api_key_from_env(api_key_env), base_url=base_url or None)


def _api(what: str, call: Callable[[], Any]) -> Any:
    import openai

    try:
        return call()
    except openai.APIError as exc:
        raise PricebenchError(f"{what} failed: {first_line(exc)}") from None


def upload(client: Any, path: Path) -> str:
    """Upload one prepared JSONL file for fine-tuning; its file id."""
    with path.open("rb") as handle:
        uploaded = _api(
            f"uploading {path}", lambda: client.files.create(file=handle, purpose="fine-tune")
        )
    return uploaded.id


def create_job(client: Any, settings: dict[str, Any], training_file: str,
               validation_file: str | None) -> Any:  # fmt: skip
    """``fine_tuning.jobs.create`` with the course's settings (1 epoch, seed 42, suffix pricer)."""
    request: dict[str, Any] = {
        "model": settings["model"],
        "training_file": training_file,
        "seed": settings["seed"],
        "suffix": settings["suffix"],
        "method": {
            "type": "supervised",
            "supervised": {"hyperparameters": {"n_epochs": settings["n_epochs"]}},
        },
    }
    if validation_file:
        request["validation_file"] = validation_file
    if settings.get("wandb_project"):
        wandb: dict[str, Any] = {"project": settings["wandb_project"]}
        if settings.get("wandb_entity"):
            wandb["entity"] = settings["wandb_entity"]
        request["integrations"] = [{"type": "wandb", "wandb": wandb}]
    return _api("creating the fine-tuning job", lambda: client.fine_tuning.jobs.create(**request))


def follow(client: Any, job_id: str, poll_seconds: float,
           out: Callable[[str], None] = print) -> tuple[Any, list[dict[str, Any]]]:  # fmt: skip
    """Poll the job and print its new events until it succeeds, fails or is cancelled.

    Returns the final job and the data of its metric events, oldest first.
    """
    seen: set[str] = set()
    metrics: list[dict[str, Any]] = []
    while True:
        job = _api(f"reading job {job_id}", lambda: client.fine_tuning.jobs.retrieve(job_id))
        page = _api(
            f"reading the events of {job_id}",
            lambda: client.fine_tuning.jobs.list_events(job_id, limit=100),
        )
        for event in reversed(page.data):  # the API lists newest first
            if event.id in seen:
                continue
            seen.add(event.id)
            stamp = datetime.fromtimestamp(event.created_at, UTC).strftime("%H:%M:%S")
            out(f"{stamp} {event.level}: {event.message}")
            data = getattr(event, "data", None)
            if getattr(event, "type", None) == "metrics" and isinstance(data, dict):
                metrics.append(dict(data))
        if job.status in TERMINAL:
            return job, metrics
        time.sleep(poll_seconds)


def result_rows(client: Any, job: Any) -> list[dict[str, float]]:
    """The rows of the job's result CSV (step, train_loss, ...), when it has one."""
    if not job.result_files:
        return []
    content = _api(
        "reading the job's result file", lambda: client.files.content(job.result_files[0])
    )
    rows = []
    for row in csv.DictReader(io.StringIO(content.text)):
        parsed = {}
        for key, value in row.items():
            try:
                parsed[key] = float(value)
            except (TypeError, ValueError):
                continue
        rows.append(parsed)
    return rows


def log_to_wandb(
    settings: dict[str, Any],
    config: dict[str, Any],
    job: Any,
    metrics: list[dict[str, Any]],
    rows: list[dict[str, float]],
) -> str | None:
    """One W&B run for the job: its config, loss curves, final status and model; offline when no
    key. Returns the offline run folder; a W&B failure is one warning line, never an error."""
    from harness.tracking import resolve_mode

    try:
        import wandb

        mode = cast(WandbMode, resolve_mode(settings.get("mode")))
        run = wandb.init(
            project=settings.get("project") or "pricebench",
            entity=settings.get("entity"),
            dir=settings.get("dir"),
            job_type="fine-tune",
            name=f"finetune-{config.get('suffix')}-{job.id}",
            config=config,
            mode=mode,
            reinit="finish_previous",
            settings=wandb.Settings(silent=True, console="off", x_disable_stats=True),
        )
    except Exception as exc:
        warn(f"W&B did not start ({first_line(exc)}); the job is unaffected")
        return None
    try:
        for data in metrics:
            step = int(data.get("step", 0))
            run.log({k: v for k, v in data.items() if isinstance(v, int | float)}, step=step)
        for row in rows:
            step = int(row.get("step", 0))
            run.log({f"result/{k}": v for k, v in row.items() if k != "step"}, step=step)
        run.summary.update(
            {
                "status": job.status,
                "fine_tuned_model": job.fine_tuned_model,
                "trained_tokens": job.trained_tokens,
                "job_id": job.id,
            }
        )
    finally:
        run.finish()
    folder = str(Path(run.dir).parent)
    if mode == "offline":
        print(f"wandb: offline run saved in {folder}; upload it with: wandb sync {folder}")
    return folder


def job_error(job: Any) -> str:
    error = getattr(job, "error", None)
    message = getattr(error, "message", None) if error else None
    code = getattr(error, "code", None) if error else None
    if not message:
        return "no error given"
    return f"{message} ({code})" if code else message
