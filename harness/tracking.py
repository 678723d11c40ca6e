"""Experiment trackers, called by the runner after the results store has written the run.

The W&B tracker logs each evaluation as one run (offline unless an API key is configured). It
never costs a result: if W&B cannot start or fails part-way, one warning line says so and the
run's results folder stays as it was.
"""

from __future__ import annotations

import json
import netrc
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Protocol, runtime_checkable
from urllib.parse import urlparse

from harness.errors import warn
from harness.secrets import redact

MODES = ("online", "offline", "disabled", "shared")


class TrackingInterrupted(KeyboardInterrupt):
    """Ctrl-C while a tracker was logging a run that the results store already holds."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        super().__init__(
            f"interrupted while logging the run to W&B; its results in {run_dir} are complete"
        )


@runtime_checkable
class Tracker(Protocol):
    """An experiment tracker, as the runner drives it: ``start()`` before the evaluation (to get
    ready while it runs), ``log_run(...)`` once the results store holds the run, and ``close()``
    always at the end, whether or not the run was handed over."""

    def start(self) -> None: ...

    def close(self) -> None: ...

    def log_run(
        self,
        run_dir: Path,
        metrics: dict[str, Any],
        records: list[dict[str, Any]],
        config: dict[str, Any],
        *,
        name: str,
        job_num: int | None = None,
        sweep: str | None = None,
    ) -> None: ...


class NullTracker:
    """Tracks nothing: the results store alone keeps the run."""

    def start(self) -> None:
        return None

    def close(self) -> None:
        return None

    def log_run(
        self,
        run_dir: Path,
        metrics: dict[str, Any],
        records: list[dict[str, Any]],
        config: dict[str, Any],
        *,
        name: str,
        job_num: int | None = None,
        sweep: str | None = None,
    ) -> None:
        return None


def wandb_api_key_configured() -> bool:
    """True when W&B has a key: ``WANDB_API_KEY`` or a netrc entry for its server."""
    if os.environ.get("WANDB_API_KEY"):
        return True
    host = urlparse(os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai")).hostname or ""
    try:
        return netrc.netrc().authenticators(host) is not None
    except (OSError, netrc.NetrcParseError):
        return False


def resolve_mode(mode: str | None) -> str:
    """The configured mode, else ``WANDB_MODE``, else online with an API key and offline without."""
    mode = mode or os.environ.get("WANDB_MODE") or None
    if mode is None:
        return "online" if wandb_api_key_configured() else "offline"
    if mode not in MODES:
        raise ValueError(f"tracker.mode must be one of {', '.join(MODES)}, not {mode!r}")
    return mode


class WandbTracker:
    """Logs each evaluation as one W&B run: config, summary, per-item table, charts, artifacts.

    Lineage (``harness.wandb_worker``): the run uses the test set as a ``dataset`` artifact
    (``testset-<12 hex of the fingerprint>``), logs its results folder as a version of the
    ``evaluation`` artifact of its predictor configuration (``eval-<predictor>-<8 hex of the
    redacted predictor config>``), records the git commit and dirty flag of metrics.json, and for
    a fine-tuned model the W&B run of its fine-tuning job (``finetune_run``).

    ``start()`` launches a worker process (``harness.wandb_worker``) that imports wandb while the
    evaluation runs; ``log_run`` hands it the finished results folder and waits for it.
    """

    def __init__(
        self,
        project: str = "pricebench",
        entity: str | None = None,
        group: str | None = None,
        tags: list[str] | None = None,
        job_type: str = "eval",
        mode: str | None = None,
        dir: str | None = None,
        init_timeout: float = 30.0,
        artifact: bool = True,
    ) -> None:
        self.project = project
        self.entity = entity
        self.group = group
        self.tags = tags
        self.job_type = job_type
        self.mode = mode
        self.dir = dir
        self.init_timeout = init_timeout
        self.artifact = artifact

    def start(self) -> None:
        """Start the worker early, so that importing wandb overlaps the evaluation."""
        if getattr(self, "worker_", None) is not None:
            return
        env = {**os.environ, "WANDB_SILENT": "true"}
        # In a process group of its own, so that Ctrl-C at the terminal reaches pricebench only:
        # pricebench then stops the worker (``close``), and neither prints a traceback.
        self.worker_: subprocess.Popen[str] | None = subprocess.Popen(
            [sys.executable, "-m", "harness.wandb_worker"],
            stdin=subprocess.PIPE,
            env=env,
            text=True,
            process_group=0,
        )

    def close(self) -> None:
        """Stop a worker that was never given a run (the evaluation failed)."""
        worker, self.worker_ = getattr(self, "worker_", None), None
        if worker is not None and worker.poll() is None:
            try:
                worker.communicate("", timeout=10)
            except (subprocess.TimeoutExpired, OSError):
                worker.kill()

    def log_run(
        self,
        run_dir: Path,
        metrics: dict[str, Any],
        records: list[dict[str, Any]],
        config: dict[str, Any],
        *,
        name: str,
        job_num: int | None = None,
        sweep: str | None = None,
    ) -> None:
        try:
            mode = resolve_mode(self.mode)
        except ValueError as exc:
            warn(f"{exc}; the run was not logged to W&B")
            self.close()
            return
        job = {
            "run_dir": str(run_dir),
            "name": name if job_num is None else f"{name}-{job_num}",
            "mode": mode,
            "config": {
                **redact(config),
                "predictor_name": metrics["predictor"],
                "fingerprint": metrics["fingerprint"],
                "canonical": metrics["canonical"],
            },
            "settings": {
                "project": self.project,
                "entity": self.entity,
                "group": self.group or sweep,
                "tags": list(self.tags or []),
                "job_type": self.job_type,
                "dir": self.dir,
                "init_timeout": self.init_timeout,
                "artifact": self.artifact,
            },  # fmt: skip
        }
        self.start()
        worker, self.worker_ = self.worker_, None
        assert worker is not None
        try:
            worker.communicate(json.dumps(job), timeout=self.init_timeout + 120)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
            warn(f"W&B took too long and was stopped; the results in {run_dir} are complete")
            return
        except KeyboardInterrupt:
            worker.kill()
            worker.wait()
            raise TrackingInterrupted(run_dir) from None
        if worker.returncode != 0:
            warn(f"the W&B worker failed (exit {worker.returncode}); {run_dir} is intact")
