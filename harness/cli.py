"""Entry points. ``pricebench`` is a Hydra app: ``pricebench predictor=random``."""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import hydra
from omegaconf import DictConfig

from harness import schema
from harness.errors import PricebenchError
from harness.paths import CONF_DIR
from harness.run import build, config_error, in_multirun, objective, run_config
from harness.tracking import TrackingInterrupted

if TYPE_CHECKING:
    from harness.evaluate import RunResult

__all__ = ["CONF_DIR", "build", "main", "run"]

schema.register()  # before @hydra.main composes anything


def _fail(message: str, code: int = 2) -> NoReturn:
    print(f"pricebench: error: {message}", file=sys.stderr)
    sys.exit(code)


def run(cfg: DictConfig) -> RunResult:
    """One evaluation from a composed config (:func:`harness.run.run_config`)."""
    return run_config(cfg)


def _job_dir_and_overrides() -> tuple[str, list[str]]:
    from hydra.core.hydra_config import HydraConfig

    hc = HydraConfig.get()
    return hc.runtime.output_dir, list(hc.overrides.task)


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="config")
def _app(cfg: DictConfig) -> float:
    from harness.sweep import record_job

    try:
        result = run_config(cfg)
        value = objective(cfg, result.metrics)
    except PricebenchError as exc:
        if in_multirun():  # report it and let the other jobs go on
            print(f"pricebench: error: {exc}", file=sys.stderr)
            record_job(*_job_dir_and_overrides(), error=str(exc))
            return float("nan")
        _fail(str(exc))
    except TrackingInterrupted as exc:  # the run is stored; only its W&B record is cut short
        _fail(str(exc), 130)
    except KeyboardInterrupt:
        # (what Ctrl-C cut off mid-request may be collected on the way out: no second line)
        warnings.filterwarnings("ignore", r"coroutine .* was never awaited", RuntimeWarning)
        _fail(
            "interrupted; no results were written for this run (LLM replies received so far "
            "are cached, so a rerun resumes where this one stopped)",
            130,
        )
    except Exception as exc:
        if not in_multirun():
            raise  # a defect: its traceback is what a bug report needs
        # In a multirun, one job's defect must not cost the other jobs or the sweep's board.
        what = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        message = f"unexpected {type(exc).__name__}" + (f": {what}" if what else "")
        print(f"pricebench: error: {message}", file=sys.stderr)
        record_job(*_job_dir_and_overrides(), error=message)
        return float("nan")
    if in_multirun():
        record_job(*_job_dir_and_overrides(), run_dir=result.run_dir, metrics=result.metrics)
    return value


def _os_error(exc: OSError) -> str:
    """A file that could not be written or read, as one line: which, why, and when it is Hydra's
    output folder (the run's own folders are checked before it starts), the setting that moves
    it."""
    from harness.preflight import reason

    if exc.filename is None:
        return f"{exc.strerror or type(exc).__name__}"
    where = Path(os.fsdecode(exc.filename))
    if not _raised_by_hydra(exc):
        return f"{where}: {reason(where, exc)}"
    key = "hydra.sweep.dir" if {"-m", "--multirun"} & set(sys.argv[1:]) else "hydra.run.dir"
    return (
        f"cannot write {where}: {reason(where, exc)} (Hydra's output folder); "
        f"set {key} to a folder you can write to"
    )


def _raised_by_hydra(exc: BaseException) -> bool:
    """Whether the deepest frame outside Python's own library that ``exc`` passed is Hydra's."""
    import sysconfig
    import traceback

    stdlib = sysconfig.get_paths()["stdlib"]
    own = [
        frame.filename for frame in traceback.extract_tb(exc.__traceback__)
        if not frame.filename.startswith((stdlib, "<"))
    ]  # fmt: skip
    return bool(own) and f"{os.sep}hydra{os.sep}" in own[-1]


@contextmanager
def _config_errors_in_one_line() -> Iterator[None]:
    """Hydra prints a config that does not compose over several lines (and exits 1); ask it to
    raise instead, and say it in one line. ``HYDRA_FULL_ERROR=1`` set by the user keeps Hydra's
    full report."""
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    if os.environ.get("HYDRA_FULL_ERROR"):
        yield
        return
    os.environ["HYDRA_FULL_ERROR"] = "1"
    try:
        yield
    except (HydraException, OmegaConfBaseException) as exc:
        _fail(config_error(exc))
    except OSError as exc:  # Hydra could not write its output folder (the run's are checked)
        _fail(_os_error(exc))
    finally:
        os.environ.pop("HYDRA_FULL_ERROR", None)


def main() -> None:
    """The ``pricebench`` console script (``pricebench doctor ...``: :mod:`harness.doctor`)."""
    if sys.argv[1:2] == ["doctor"]:
        from harness.doctor import main as doctor

        sys.exit(doctor(sys.argv[2:]))
    with _config_errors_in_one_line():
        _app()


if __name__ == "__main__":
    main()
