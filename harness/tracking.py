"""Experiment trackers, called by the runner after the results store has written the run."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol


class Tracker(Protocol):
    def log_run(
        self,
        run_dir: Path,
        metrics: dict[str, Any],
        records: list[dict[str, Any]],
        config: dict[str, Any],
    ) -> None: ...


class NullTracker:
    """Tracks nothing: the results store alone keeps the run."""

    def log_run(
        self,
        run_dir: Path,
        metrics: dict[str, Any],
        records: list[dict[str, Any]],
        config: dict[str, Any],
    ) -> None:
        return None
