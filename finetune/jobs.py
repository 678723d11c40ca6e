"""The API side of fine-tuning: upload the prepared files, create the job, follow it and log it
to W&B. The registry of jobs (``results/finetunes.jsonl``) is :mod:`harness.registry`."""

from __future__ import annotations

import csv
import io
import math
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, cast

from harness.errors import PricebenchError, first_line, warn
from harness.secrets import api_key_from_env

TERMINAL = ("succeeded", "failed", "cancelled")
WandbMode = Literal["online", "offline", "disabled", "shared"]


# OpenAI is winding down self-serve fine-tuning. OpenAI's deprecations page
# (https://developers.openai.com/api/docs/deprecations, "Update to OpenAI's self-serve
# fine-tuning", notified 2026-05-07): job creation ended for organisations that never fine-tuned on
# 2026-05-07, for those with no inference on a fine-tuned model in the past 60 days on 2026-07-02,
# and ends for everyone on 2027-01-06; inference on fine-tuned models goes on until the underlying
# base model is deprecated. A refused organisation gets HTTP 403 from fine_tuning.jobs.create.
WIND_DOWN = (
    "OpenAI is winding down self-serve fine-tuning (organisations that never fine-tuned lost job "
    "creation on 2026-05-07, those with no fine-tuned inference in 60 days on 2026-07-02, "
    "everyone on 2027-01-06; existing fine-tuned models answer until their base model is retired)"
)
# OpenAI's API has no call that says whether jobs can be created (no eligibility endpoint; the
# checkpoint-permission endpoints need an admin key and concern sharing). The check is a creation
# naming a file id nobody uploaded: it cannot create a job, and a platform that refuses creation
# can answer 403 to it; any other refusal (400/404 for the missing file) says nothing, and the
# real creation is then checked the same way (after the free upload, before anything is paid for).
ACCESS_CHECK_FILE = "file-pricebench-access-check"
RECORDED_RUN = "gpt-4o-mini-fine-tuned.csv"  # the course's fine-tuned run, in <data>/reference


def client_for(base_url: str | None, api_key_env: str | None) -> Any:
    from openai import OpenAI

    return OpenAI(api_key=api_key_from_env(api_key_env), base_url=base_url or None)


def host_of(base_url: str | None) -> str:
    """The host a base URL names (``api.openai.com`` for OpenAI's default)."""
    from urllib.parse import urlsplit

    return urlsplit(base_url or "https://api.openai.com/v1").netloc or str(base_url)


def platform_said(exc: Any) -> str:
    """What an API error's body says (OpenAI's shape: ``{"error": {"message", ..., "code"}}``),
    on one line; the SDK's own text when the body is not that shape."""
    body = getattr(exc, "body", None)
    message = body.get("message") if isinstance(body, dict) else None
    if not isinstance(message, str) or not message.strip():
        return first_line(exc)
    text = " ".join(message.split())[:300]
    code = body.get("code") if isinstance(body, dict) else None
    return f"{text} [{code}]" if isinstance(code, str) and code else text


def refusal(exc: Any, base_url: str | None, replay_path: str, uploaded: bool) -> PricebenchError:
    """The one line for a platform that refuses to create fine-tuning jobs (HTTP 403): what it
    said, OpenAI's wind-down dates, what still works, and what was (not) done."""
    status = getattr(exc, "status_code", 403)
    done = (
        "the uploaded files cost nothing; no job was created"
        if uploaded
        else "nothing was uploaded and no job created"
    )
    return PricebenchError(
        f"{host_of(base_url)} refused to create fine-tuning jobs (HTTP {status}: "
        f"{platform_said(exc)}); {WIND_DOWN}. Still works: evaluating a fine-tuned model you "
        "have (pricebench predictor=fine_tuned predictor.job_id=ftjob-...), the course's recorded "
        f"fine-tuned run, 2024 edition (pricebench predictor=replay predictor.path={replay_path}), "
        "or fine-tuning elsewhere (pricebench-finetune provider=azure, or base_url=URL "
        "api_key_env=VAR for another server with this job API) and serving the model behind an "
        "OpenAI-compatible endpoint (pricebench predictor=fine_tuned predictor.model=NAME "
        f"predictor.base_url=URL); {done}"
    )


def check_access(client: Any, model: str, replay_path: str) -> None:
    """Before anything is uploaded: ask for a job on a file that does not exist
    (:data:`ACCESS_CHECK_FILE`). A 403 is the platform refusing job creation (:func:`refusal`), a
    401 a key it refuses: one line each. Any other answer says nothing and the flow goes on."""
    import openai

    base_url = str(client.base_url)
    try:
        job = client.fine_tuning.jobs.create(model=model, training_file=ACCESS_CHECK_FILE)
    except openai.PermissionDeniedError as exc:
        raise refusal(exc, base_url, replay_path, uploaded=False) from None
    except openai.AuthenticationError as exc:
        raise PricebenchError(
            f"{host_of(base_url)} refused the key (HTTP 401: {platform_said(exc)}); check the key "
            "in api_key_env's variable; nothing was uploaded"
        ) from None
    except openai.APIStatusError:
        return  # the missing file refused: creation itself was not
    except openai.APIError as exc:
        raise PricebenchError(
            f"checking that {host_of(base_url)} creates fine-tuning jobs failed: "
            f"{first_line(exc)}; nothing was uploaded"
        ) from None
    # a server that created a job on a file it does not hold: cancel that job at once
    job_id = getattr(job, "id", None)
    if job_id:
        _api(f"cancelling the check's job {job_id}",
             lambda: client.fine_tuning.jobs.cancel(job_id))  # fmt: skip
        warn(f"{host_of(base_url)} created job {job_id} for a file that does not exist; cancelled")


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
               validation_file: str | None, replay_path: str = RECORDED_RUN) -> Any:  # fmt: skip
    """``fine_tuning.jobs.create`` with the course's settings (1 epoch, seed 42, suffix pricer);
    a 403 is :func:`refusal` (``replay_path``: the recorded run it names)."""
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
    import openai

    try:
        return client.fine_tuning.jobs.create(**request)
    except openai.PermissionDeniedError as exc:
        raise refusal(exc, str(client.base_url), replay_path, uploaded=True) from None
    except openai.APIError as exc:
        raise PricebenchError(f"creating the fine-tuning job failed: {first_line(exc)}") from None


def follow(client: Any, job_id: str, poll_seconds: float,
           out: Callable[[str], None] = print) -> tuple[Any, list[dict[str, Any]]]:  # fmt: skip
    """Poll the job and print its new events until it succeeds, fails or is cancelled.

    Returns the final job and the data of its metric events, oldest first.
    """
    seen: set[str] = set()
    metrics: list[dict[str, Any]] = []
    while True:
        job = _api(f"reading job {job_id}", lambda: client.fine_tuning.jobs.retrieve(job_id))
        for event in _new_events(client, job_id, seen):
            seen.add(event.id)
            stamp = datetime.fromtimestamp(event.created_at, UTC).strftime("%H:%M:%S")
            out(f"{stamp} {event.level}: {event.message}")
            data = getattr(event, "data", None)
            if getattr(event, "type", None) == "metrics" and isinstance(data, dict):
                metrics.append(dict(data))
        if job.status in TERMINAL:
            return job, metrics
        time.sleep(poll_seconds)


def _new_events(client: Any, job_id: str, seen: set[str]) -> list[Any]:
    """The job's events not in ``seen``, oldest first. The API lists them newest first, 100 a
    page at most: read pages back until an event already seen, so none is skipped between polls
    (or before the first one, when a long job is followed late)."""
    fresh: list[Any] = []
    after: str | None = None
    while True:
        cursor = {"after": after} if after else {}

        def page_of_events(cursor: dict[str, str] = cursor) -> Any:
            return client.fine_tuning.jobs.list_events(job_id, limit=100, **cursor)

        page = _api(f"reading the events of {job_id}", page_of_events)
        for event in page.data:
            if event.id in seen:
                return fresh[::-1]
            fresh.append(event)
        if not page.data or not getattr(page, "has_more", False):
            return fresh[::-1]
        after = page.data[-1].id


def result_rows(client: Any, job: Any) -> list[dict[str, float]]:
    """The rows of the job's result CSV (step, train_loss, ...), when it has one; empty cells
    (a validation loss is computed only every so many steps) are left out of their row."""
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


# The result file's columns are step, train_loss, train_accuracy, valid_loss,
# valid_mean_token_accuracy (OpenAI's fine-tuning guide, "Analyzing your fine-tuned model":
# https://platform.openai.com/docs/guides/fine-tuning); a metric event's data and a checkpoint's
# metrics name the training accuracy train_mean_token_accuracy and may add full_valid_loss and
# full_valid_mean_token_accuracy (API reference, fine-tuning job checkpoint object: "Metrics at the
# step number during the fine-tuning job"). W&B gets the result file's names.
_EVENT_NAMES = {"train_mean_token_accuracy": "train_accuracy"}
_NOT_METRICS = ("step", "total_steps")


def _step_of(data: dict[str, Any]) -> int | None:
    step = data.get("step")
    if isinstance(step, bool) or not isinstance(step, int | float | str):
        return None
    try:
        number = float(step)
    except ValueError:
        return None
    return int(number) if math.isfinite(number) and number == int(number) else None


def step_rows(
    metrics: list[dict[str, Any]], rows: list[dict[str, float]]
) -> list[tuple[int, dict[str, float]]]:
    """One row per step of the job, steps ascending: the metric events' numbers, then the result
    file's over them (it holds every step; events can be missed, or come only every so many
    steps). Data without a whole-number step is left out."""
    by_step: dict[int, dict[str, float]] = {}
    for source, names in ((metrics, _EVENT_NAMES), (rows, {})):
        for data in source:
            step = _step_of(data)
            if step is None:
                continue
            values = {
                names.get(key, key): float(value)
                for key, value in data.items()
                if key not in _NOT_METRICS
                and isinstance(value, int | float)
                and not isinstance(value, bool)
            }
            by_step.setdefault(step, {}).update(values)
    return sorted(by_step.items())


def wandb_run_id(job_id: str) -> str:
    """The W&B run id of a fine-tuning job: the job id (as W&B's own OpenAI integration names its
    run), any character W&B refuses in a run id (``:;,#?/'``, whitespace, ...) replaced by ``-``."""
    return re.sub(r"[^A-Za-z0-9_.-]", "-", job_id.strip()) or "job"


def log_to_wandb(
    settings: dict[str, Any],
    config: dict[str, Any],
    job: Any,
    metrics: list[dict[str, Any]],
    rows: list[dict[str, float]],
    logged_step: int | None = None,
    files: list[Path] | None = None,
) -> int | None:
    """Log the job to its W&B run (id :func:`wandb_run_id`, resumed when it exists): config, every
    step of :func:`step_rows` after ``logged_step`` (and after the steps a resumed online run
    already holds) at the job's own step, the final status and model, and ``files`` (the prepared
    training files) as one artifact. Offline when there is no key.

    Returns the last step the run now holds (``logged_step`` when there was nothing new; -1 when
    the job has no steps); None when W&B failed, which is one warning line, never an error."""
    from harness.tracking import resolve_mode

    run_id = wandb_run_id(job.id)
    try:
        import wandb

        mode = cast(WandbMode, resolve_mode(settings.get("mode")))
        if mode == "disabled":
            return None  # nothing is stored, so nothing is recorded as logged
        run = wandb.init(
            project=settings.get("project") or "pricebench",
            entity=settings.get("entity"),
            dir=settings.get("dir"),
            job_type="fine-tune",
            id=run_id,
            resume="allow",
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
        # W&B drops a row logged at a step below one it already holds: log each step once, in order
        first = max(-1 if logged_step is None else logged_step + 1, run.starting_step or 0)
        last = -1 if logged_step is None else logged_step
        for step, values in step_rows(metrics, rows):
            if step >= first:
                run.log(values, step=step)
                last = step
        run.summary.update(
            {
                "status": job.status,
                "fine_tuned_model": job.fine_tuned_model,
                "trained_tokens": job.trained_tokens,
                "job_id": job.id,
            }
        )
        if files:
            artifact = wandb.Artifact(
                f"finetune-files-{run_id}",
                type="dataset",
                metadata={"job_id": job.id, "training_file": config.get("training_file"),
                          "validation_file": config.get("validation_file")},
            )  # fmt: skip
            for path in files:
                artifact.add_file(str(path), name=path.name)
            run.log_artifact(artifact)
    except Exception as exc:
        warn(f"W&B logging stopped ({first_line(exc)}); follow the job again to finish it")
        return None
    finally:
        run.finish()
    folder = str(Path(run.dir).parent)
    if mode == "offline":
        print(f"wandb: offline run saved in {folder}; upload it with: wandb sync {folder}")
    return last


def job_error(job: Any) -> str:
    error = getattr(job, "error", None)
    message = getattr(error, "message", None) if error else None
    code = getattr(error, "code", None) if error else None
    if not message:
        return "no error given"
    return f"{message} ({code})" if code else message
