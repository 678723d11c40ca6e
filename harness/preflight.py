"""Before paying for anything: the folders a run will write to (results, the response cache,
W&B's folder when tracking) can be written, each failure one line naming the key.

Each folder (or, when it does not exist yet, its nearest existing parent) is proven writable by
creating and removing a file in it, so the check leaves nothing behind.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from omegaconf import DictConfig

from harness.errors import PricebenchError

__all__ = ["check_writable", "reason", "unwritable"]

WANDB_TRACKER = "harness.tracking.WandbTracker"
DEFAULT_CACHE_DIR = "~/.cache/pricebench"  # predictors.llm's default when cache_dir is null


def unwritable(folder: str | Path, create: bool = False) -> str | None:
    """Why ``folder`` cannot be written, or None when it can. A folder that does not exist yet
    can be written when its nearest existing parent can (``create``: make it, as W&B needs)."""
    path = Path(folder).expanduser()
    try:
        if create:
            path.mkdir(parents=True, exist_ok=True)
        existing = path
        while not existing.exists():
            if existing.is_symlink():
                return f"{existing} is a link to nothing"
            existing = existing.parent
        if not existing.is_dir():
            return _not_a_folder(existing)
        fd, probe = tempfile.mkstemp(prefix=".pricebench-probe-", dir=existing)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        return reason(path, exc)
    return None


def _not_a_folder(place: Path) -> str:
    return f"{place} is {'a file' if place.is_file() else 'something else'}, not a folder"


def reason(path: Path, exc: OSError) -> str:
    """Why ``exc`` happened at ``path``, in words: the file standing where a folder must be,
    else the system's reason."""
    system = exc.strerror or type(exc).__name__
    try:
        for place in (path, *path.parents):
            if place.exists():
                return system if place.is_dir() else _not_a_folder(place)
    except OSError:
        pass
    return system


def _folders(cfg: DictConfig, results_dir: str | Path | None) -> list[tuple[str, str, str]]:
    """(what the user set, the folder, how to fix it) for each folder this run writes to."""
    results = str(results_dir if results_dir is not None else cfg.results.dir)
    folders = [(f"results.dir={results}", results, "set results.dir to a folder you can write to")]

    predictor = cfg.get("predictor")
    uses_cache = isinstance(predictor, DictConfig) and "cache_dir" in predictor
    if uses_cache and predictor.get("cache_enabled", True):  # an LLM predictor's reply cache
        raw = predictor.get("cache_dir")
        shared = cfg.get("cache") is not None and cfg.cache.get("dir") == raw
        key = "cache.dir" if shared else "predictor.cache_dir"
        cache = raw or DEFAULT_CACHE_DIR
        fix = f"set {key} to a folder you can write to, or cache.enabled=false"
        folders.append((f"{key}={cache}", str(cache), fix))

    tracker = cfg.get("tracker")
    if isinstance(tracker, DictConfig) and tracker.get("_target_") == WANDB_TRACKER:
        from harness.tracking import resolve_mode

        try:
            mode = resolve_mode(tracker.get("mode"))
        except ValueError:
            mode = None  # the tracker warns about the mode itself, and logs nothing
        if mode not in (None, "disabled"):
            if tracker.get("dir"):
                fix = "set tracker.dir to a folder you can write to"
                folders.append((f"tracker.dir={tracker.dir}", str(tracker.dir), fix))
            elif os.environ.get("WANDB_DIR"):
                where = os.environ["WANDB_DIR"]
                fix = "set WANDB_DIR or tracker.dir to a folder you can write to"
                folders.append((f"WANDB_DIR={where}", where, fix))
            else:
                fix = "set tracker.dir to a folder you can write to, or tracker=none"
                folders.append((f"W&B's folder {os.getcwd()}", os.getcwd(), fix))
    return folders


def check_writable(cfg: DictConfig, results_dir: str | Path | None = None) -> None:
    """Raise :class:`~harness.errors.PricebenchError` naming the first folder that cannot be
    written. ``results_dir``: where the run is stored when it is not ``cfg.results.dir``."""
    for setting, folder, fix in _folders(cfg, results_dir):
        if not str(folder).strip():  # Path("") is the working folder: never meant
            raise PricebenchError(f"{setting.split('=')[0]} is empty; set it to a folder")
        problem = unwritable(folder)
        if problem is not None:
            raise PricebenchError(f"{setting} cannot be written: {problem}; {fix}")
