"""``pricebench doctor [KEY=VALUE ...]``: what a run with the same overrides would use, and why it
would fail, in a few lines, before anything is run, paid for or written.

It composes the config as ``pricebench`` does (:func:`harness.run.compose`) and reports:

- the data: the test file it resolves to, read by :func:`harness.data.load_dataset` as a run
  reads it (so the item count, fingerprint and canonical flag are the ones the run would store),
  and the training pool the same call assembles; with no data path, the hub dataset a run would
  download, which doctor never does (it only says whether the ``datasets`` library is there);
- the W&B mode (:func:`harness.tracking.resolve_mode`) and the folder W&B writes to (the
  ``tracker.dir``, ``WANDB_DIR``, working-folder rule of :mod:`harness.preflight`);
- which provider API keys are set: the ``api_key_env`` names of ``conf/predictor/*.yaml`` and
  ``WANDB_API_KEY``, by name only (a value is never read into the output);
- the results and cache folders, and whether they can be written
  (:func:`harness.preflight.unwritable`, which leaves nothing behind).

Exit status: 0 when a run would start, 1 when a line above names a problem (the last line, on
stderr, says how many and which), 2 for overrides that do not compose (the main command's line).
Nothing is written: no results folder, no W&B folder, no cache database, no hub download.
"""

from __future__ import annotations

import importlib.util
import os
import re
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from harness.errors import PricebenchError

__all__ = ["HELP", "Finding", "check", "main", "provider_key_names"]

HELP = """\
usage: pricebench doctor [KEY=VALUE ...]

Shows what `pricebench [KEY=VALUE ...]` would use, without running it: the test data (its path,
item count, fingerprint and whether it is the course's fixed 250), the training pool, the W&B mode
and folder, which provider API keys are set (names only, never values), and whether the results
and cache folders can be written. It takes the main command's overrides (data.path=DIR,
results.dir=DIR, tracker.mode=offline, predictor=NAME, ...), writes nothing and downloads nothing.
Exit status: 0 when a run would start, 1 when a problem is shown, 2 for a bad override."""

WANDB_KEY = "WANDB_API_KEY"
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True, slots=True)
class Finding:
    """One line of the report: what it is about, what was found, and whether a run would fail."""

    topic: str
    text: str
    problem: bool = False

    def __str__(self) -> str:
        return f"{self.topic}: {self.text}"


def _absolute(path: str | Path) -> Path:
    """``path`` with ``~`` expanded, made absolute, ``..`` parts dropped (links kept as given)."""
    return Path(os.path.abspath(Path(path).expanduser()))


# --- data ---------------------------------------------------------------------------------------


def _installed(module: str) -> bool:
    """Whether ``module`` can be imported, without importing it."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _hub_finding(topic: str, why: str, hub: str, split: str) -> Finding:
    """A run would download ``split`` of the hub dataset ``hub``: doctor does not (it says
    whether the ``datasets`` library that would is installed; without it the run fails)."""
    installed = _installed("datasets")
    library = (
        "the `datasets` library is installed"
        if installed
        else "the `datasets` library is NOT installed: `pip install 'pricebench[hub]'`, or set "
        "data.path"
    )
    text = (
        f"{why}: a run downloads the {split} split of the hub dataset {hub} (needs network; "
        f"not tried here); {library}"
    )
    return Finding(topic, text, problem=not installed)


@contextmanager
def _scratch_hub_cache() -> Iterator[None]:
    """Reading a local parquet file goes through the ``datasets`` library, which caches what it
    reads: point its caches at a temporary folder, removed afterwards, so doctor writes nothing
    (the library reads these variables when it is imported, which doctor has not done yet)."""
    if "datasets" in sys.modules:
        yield
        return
    saved = {name: os.environ.get(name) for name in ("HF_HOME", "HF_DATASETS_CACHE")}
    with tempfile.TemporaryDirectory(prefix="pricebench-doctor-") as scratch:
        os.environ["HF_HOME"] = scratch
        os.environ["HF_DATASETS_CACHE"] = str(Path(scratch) / "datasets")
        try:
            yield
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


def _test_set_words(dataset: Any) -> str:
    """What the run would say about its test set: canonical or not (the flag
    :func:`harness.data.load_dataset` computes and the run stores)."""
    from harness.data import CANONICAL_SIZE

    if dataset.split == "validation":
        return "data.split=validation: items held out of the training pool, not the test set"
    if dataset.canonical:
        return f"canonical (the course's fixed {CANONICAL_SIZE})"
    if dataset.edition == "2025":
        return "edition 2025 (no published fingerprint to check it against)"
    return f"NOT canonical (not the course's fixed {CANONICAL_SIZE}; runs on it are marked so)"


def check_data(data: dict[str, Any]) -> list[Finding]:
    """The data and training-pool lines for the config's ``data`` section."""
    from harness.data import DATA_ENV, HUB_DATASET, load_dataset, resolve_test_file

    edition = str(data.get("edition", "2024"))
    hub = str(data.get("hub") or HUB_DATASET)
    given = data.get("path")
    if given not in (None, ""):
        data = {**data, "path": str(_absolute(str(given)))}
    try:
        test_file = resolve_test_file(data.get("path"), edition)
    except PricebenchError as exc:
        return [Finding("data", str(exc), problem=True)]
    if test_file is None:
        why = f"no data.path or {DATA_ENV[edition]}"
        return [_hub_finding("data", why, hub, "test")]

    hub_train = data.get("train_path") == "hub"
    if hub_train:  # never download: the test set alone, and the training line says where from
        data = {**data, "split": "test"}
    try:
        with _scratch_hub_cache():
            dataset = load_dataset(**{**data, "path": str(test_file)}, need_train=not hub_train)
    except (PricebenchError, OSError) as exc:
        findings = [Finding("data", _read_error(test_file, exc), problem=True)]
        try:  # the test set alone may be fine: then only the training pool is the problem
            with _scratch_hub_cache():
                dataset = load_dataset(**{**data, "path": str(test_file)}, need_train=False)
        except (PricebenchError, OSError):
            return findings
        return [_data_line(test_file, dataset), Finding("training pool", findings[0].text, True)]
    findings = [_data_line(test_file, dataset)]
    if hub_train:
        findings.append(_hub_finding("training pool", "data.train_path=hub", hub, "train"))
    elif dataset.train:
        dropped = dataset.train_dropped_overlap
        findings.append(
            Finding(
                "training pool",
                f"{len(dataset.train):,} items ({dataset.train_source})"
                + (f"; {dropped:,} dropped as copies of test items" if dropped else ""),
            )
        )
    else:
        findings.append(
            Finding(
                "training pool",
                "none found beside the test data; predictors that fit need data.train_path",
            )
        )
    return findings


def _data_line(test_file: Path, dataset: Any) -> Finding:
    return Finding(
        "data",
        f"{test_file} -- {len(dataset.test):,} {'test ' if dataset.split == 'test' else ''}"
        f"items, fingerprint "
        f"{dataset.fingerprint[:12]}, {_test_set_words(dataset)}",
    )


def _read_error(test_file: Path, exc: BaseException) -> str:
    if isinstance(exc, OSError):
        from harness.preflight import reason

        where = Path(os.fsdecode(exc.filename)) if exc.filename is not None else test_file
        return f"{where} cannot be read: {reason(where, exc)}"
    return str(exc)


# --- W&B, keys, folders -------------------------------------------------------------------------


def check_tracker(tracker: Any) -> Finding:
    """The W&B line: the mode a run would use and where W&B writes (``tracker.dir``, else
    ``WANDB_DIR``, else the working folder: :mod:`harness.preflight`'s rule)."""
    from harness.preflight import WANDB_TRACKER, unwritable
    from harness.tracking import resolve_mode

    if not isinstance(tracker, dict) or not tracker:
        return Finding("W&B", "off (no tracker: runs live in results.dir only)")
    if tracker.get("_target_") != WANDB_TRACKER:
        if tracker.get("_target_") == "harness.tracking.NullTracker":
            return Finding("W&B", "off (tracker=none: runs live in results.dir only)")
        return Finding("W&B", f"off (the tracker is {tracker.get('_target_')})")
    try:
        mode = resolve_mode(tracker.get("mode"))
    except ValueError as exc:  # the tracker warns and logs nothing; the run itself goes on
        return Finding("W&B", f"{exc}; a run would go on without W&B (one warning)")
    if mode == "disabled":
        return Finding("W&B", "disabled (nothing is logged or written by W&B)")
    if tracker.get("dir"):
        folder, key = str(tracker["dir"]), "tracker.dir"
    elif os.environ.get("WANDB_DIR"):
        folder, key = os.environ["WANDB_DIR"], "WANDB_DIR or tracker.dir"
    else:
        folder, key = os.getcwd(), "tracker.dir (or tracker=none)"
    if not folder.strip():
        return Finding("W&B", f"{key.split()[0]} is empty; set it to a folder", problem=True)
    runs = _absolute(folder) / "wandb"
    problem = unwritable(_absolute(folder))
    if problem is not None:
        return Finding(
            "W&B", f"{mode}, but {runs} cannot be written: {problem}; set {key}", problem=True
        )
    if mode == "offline":
        return Finding("W&B", f"offline (runs saved under {runs}; `wandb sync` uploads them later)")
    return Finding("W&B", f"{mode} (an API key is configured; runs are also kept under {runs})")


def provider_key_names() -> list[str]:
    """The environment variables that hold provider API keys: every ``api_key_env`` (and
    ``embedding_api_key_env``) named in ``conf/predictor/*.yaml``, then ``WANDB_API_KEY``."""
    from harness.paths import CONF_DIR

    names: list[str] = []
    for path in sorted((Path(CONF_DIR) / "predictor").glob("*.yaml")):
        try:
            node = OmegaConf.to_container(OmegaConf.load(path), resolve=False)
        except Exception:  # a config that does not parse is the run's to report, not doctor's
            continue
        if isinstance(node, dict):
            for key in ("api_key_env", "embedding_api_key_env"):
                value = node.get(key)
                if isinstance(value, str) and _ENV_NAME.fullmatch(value):
                    names.append(value)
    ordered = list(dict.fromkeys(sorted(set(names))))
    return [*ordered, WANDB_KEY] if WANDB_KEY not in ordered else ordered


def check_keys(predictor: Any) -> Finding:
    """Which provider keys are set, by name only; a problem when the configured predictor's own
    key (``predictor.api_key_env``) is not set, as the run would stop on it."""
    names = provider_key_names()
    needed = predictor.get("api_key_env") if isinstance(predictor, dict) else None
    needed = needed if isinstance(needed, str) and needed else None
    if needed is not None and needed not in names:
        names.insert(0, needed)
    found = [name for name in names if os.environ.get(name)]
    missing = [name for name in names if not os.environ.get(name)]
    parts = []
    if found:
        parts.append(f"{', '.join(found)} set")
    if missing:
        parts.append(f"{', '.join(missing)} not set")
    text = "; ".join(parts) or "none named by the predictor configs"
    if needed is not None and not os.environ.get(needed):
        return Finding(
            "provider keys",
            f"{text}; this predictor reads {needed}: export {needed}=... before the run",
            problem=True,
        )
    return Finding("provider keys", text)


def _folder_line(topic: str, folder: str, key: str, used_by: str = "") -> Finding:
    from harness.preflight import unwritable

    if not folder.strip():
        return Finding(topic, f"{key} is empty; set it to a folder", problem=True)
    shown = _absolute(folder)
    problem = unwritable(shown)
    if problem is not None:
        return Finding(
            topic,
            f"{shown} cannot be written: {problem}; set {key} to a folder you can write to",
            problem=True,
        )
    created = "" if shown.is_dir() else f"; made by the first {used_by or 'run'}"
    return Finding(topic, f"{shown} (writable{created})")


def check_cache(cfg_cache: Any, predictor: Any) -> Finding:
    """The LLM response cache: the predictor's ``cache_dir`` when it has one (as
    :mod:`harness.preflight` reads it), else ``cache.dir``; off when disabled."""
    from harness.preflight import DEFAULT_CACHE_DIR

    cache = cfg_cache if isinstance(cfg_cache, dict) else {}
    if isinstance(predictor, dict) and "cache_dir" in predictor:
        enabled = predictor.get("cache_enabled", True)
        folder = predictor.get("cache_dir") or DEFAULT_CACHE_DIR
        shared = predictor.get("cache_dir") == cache.get("dir")
        key = "cache.dir" if shared else "predictor.cache_dir"
    else:
        enabled = cache.get("enabled", True)
        folder, key = cache.get("dir") or DEFAULT_CACHE_DIR, "cache.dir"
    if not enabled:
        return Finding("cache", "off (cache.enabled=false: LLM replies are not kept)")
    return _folder_line("cache", str(folder), key, "LLM run")


# --- the report ---------------------------------------------------------------------------------


def check(overrides: Sequence[str] = ()) -> list[Finding]:
    """Every line of the report for ``pricebench [overrides]``; a config that does not compose
    is one :class:`PricebenchError` (the main command's message)."""
    from harness.run import compose, resolved

    plain = resolved(compose(overrides))  # (the main command's line when it does not resolve)
    data, results, predictor = plain.get("data"), plain.get("results"), plain.get("predictor")
    tracker, cache = plain.get("tracker"), plain.get("cache")
    results_dir = results.get("dir") if isinstance(results, dict) else None
    return [
        *check_data(data if isinstance(data, dict) else {}),
        check_tracker(tracker),
        check_keys(predictor),
        _folder_line("results", "" if results_dir is None else str(results_dir), "results.dir"),
        check_cache(cache, predictor),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    """``pricebench doctor [KEY=VALUE ...]``: print the report; the exit status to use."""
    args = list(sys.argv[2:] if argv is None else argv)
    if {"-h", "--help"} & set(args):
        print(HELP)
        return 0
    flags = [arg for arg in args if arg.startswith("-")]
    if flags:
        print(
            f"pricebench: error: doctor takes KEY=VALUE overrides only, not {flags[0]} "
            "(see `pricebench doctor --help`)",
            file=sys.stderr,
        )
        return 2
    try:
        findings = check(args)
    except PricebenchError as exc:
        print(f"pricebench: error: {exc}", file=sys.stderr)
        return 2
    for finding in findings:
        print(finding)
    problems = [finding.topic for finding in findings if finding.problem]
    sys.stdout.flush()
    if problems:
        count = f"{len(problems)} problem{'s' if len(problems) > 1 else ''}"
        print(f"doctor: {count} above ({', '.join(problems)})", file=sys.stderr)
        return 1
    print("doctor: all set")
    return 0
