"""The results store: one folder per run under ``results.dir``, every file written atomically.

A run folder holds ``config.yaml`` (the resolved config), ``predictions.jsonl`` (one record per
item), ``chart.png`` and, written last, ``metrics.json``: a folder without ``metrics.json`` is a
run that did not finish. :func:`write_run` is the one place that writes them, in that order.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import IO, Any

METRICS_FILE = "metrics.json"
PREDICTIONS_FILE = "predictions.jsonl"
CONFIG_FILE = "config.yaml"
CHART_FILE = "chart.png"
PACKAGES = (
    "pricebench", "numpy", "scipy", "hydra-core", "omegaconf", "scikit-learn", "gensim",
    "matplotlib", "openai", "wandb",
)  # fmt: skip


def _create_beside(path: Path) -> tuple[int, str]:
    """A new, empty temporary file beside ``path``, opened for writing: its descriptor and name.

    Created with mode 0666 less the umask, as ``open()`` creates a file (``tempfile.mkstemp``
    would give 0600 whatever the umask), so a results folder shared by a group stays readable."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    for _ in range(100):
        tmp = str(path.parent / f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name beside {path}")


def atomic_write(
    path: str | Path, write: Callable[[IO[Any]], object], binary: bool = False
) -> Path:
    """Write through ``write(handle)`` to a temporary file beside ``path``, then rename it over.
    The file gets the mode any Unix tool would give it: 0666 less the umask."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = _create_beside(path)
    try:
        with os.fdopen(fd, "wb" if binary else "w", encoding=None if binary else "utf-8") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_json(path: str | Path, obj: Any) -> Path:
    return atomic_write(path, lambda f: json.dump(obj, f, indent=2, sort_keys=False, default=str))


def write_jsonl(path: str | Path, rows: Iterable[dict[str, Any]]) -> Path:
    def write(f: IO[Any]) -> None:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")

    return atomic_write(path, write)


def write_text(path: str | Path, text: str) -> Path:
    return atomic_write(path, lambda f: f.write(text))


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-")[:60] or "run"


def new_run_dir(results_dir: str | Path, name: str) -> Path:
    """A fresh, uniquely named folder for one run: ``<UTC time>_<name>_<random>``."""
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    path = Path(results_dir) / f"{stamp}_{slug(name)}_{uuid.uuid4().hex[:6]}"
    path.mkdir(parents=True, exist_ok=False)
    return path


def write_run(
    results_dir: str | Path,
    title: str,
    *,
    config: Mapping[str, Any],
    records: Iterable[dict[str, Any]],
    metrics: Callable[[], dict[str, Any]],
    chart: Callable[[Path], object] | None = None,
) -> tuple[Path, dict[str, Any]]:
    """Store one run in a new folder: ``config.yaml``, ``predictions.jsonl``, ``chart.png`` (when
    ``chart`` draws it at the path it is given), then ``metrics()`` as ``metrics.json``, last, so
    that only a finished run has one. The folder and the metrics written."""
    from omegaconf import OmegaConf

    run_dir = new_run_dir(results_dir, title)
    write_text(run_dir / CONFIG_FILE, OmegaConf.to_yaml(dict(config)))
    write_jsonl(run_dir / PREDICTIONS_FILE, records)
    if chart is not None:
        chart(run_dir / CHART_FILE)
    final = metrics()
    write_json(run_dir / METRICS_FILE, final)
    return run_dir, final


@cache
def package_versions() -> dict[str, str]:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def git_state(where: str | Path | None = None) -> dict[str, Any]:
    """The commit of the pricebench source tree and whether it has uncommitted changes."""
    cwd = Path(where) if where else Path(__file__).resolve().parents[1]
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=5
        )
        if commit.returncode != 0:
            return {"commit": None, "dirty": None}
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=cwd, capture_output=True, text=True, timeout=5,
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}
    return {"commit": commit.stdout.strip(), "dirty": bool(status.stdout.strip())}


DEFAULT_EDITION = "2024"  # runs stored before editions existed scored the 2024 edition's data


def edition_of(metrics: Mapping[str, Any]) -> str:
    """The course edition a run's ``metrics.json`` says it scored: ``"2024"`` or ``"2025"``
    (a run stored before the key existed is a 2024 run)."""
    edition = metrics.get("edition")
    return str(edition) if edition is not None else DEFAULT_EDITION


def read_metrics(run_dir: str | Path) -> dict[str, Any]:
    with (Path(run_dir) / METRICS_FILE).open(encoding="utf-8") as f:
        metrics: dict[str, Any] = json.load(f)
    return metrics


def read_predictions(run_dir: str | Path) -> list[dict[str, Any]]:
    with (Path(run_dir) / PREDICTIONS_FILE).open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def finished_runs(results_dir: str | Path) -> list[Path]:
    """Finished run folders (holding ``metrics.json``) under ``results_dir``, oldest first."""
    root = Path(results_dir)
    if not root.is_dir():
        return []
    return sorted(p.parent for p in root.glob(f"*/{METRICS_FILE}"))
