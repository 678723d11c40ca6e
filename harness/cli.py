"""Entry points. ``pricebench`` is a Hydra app: ``pricebench predictor=random``."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, NoReturn

import hydra
from omegaconf import DictConfig

from harness import schema
from harness.errors import PricebenchError
from harness.paths import CONF_DIR
from harness.run import build, config_error, in_multirun, objective, run_config

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
    except KeyboardInterrupt:
        _fail(
            "interrupted; no results were written for this run (LLM replies received so far "
            "are cached, so a rerun resumes where this one stopped)",
            130,
        )
    if in_multirun():
        record_job(*_job_dir_and_overrides(), run_dir=result.run_dir, metrics=result.metrics)
    return value


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
    finally:
        os.environ.pop("HYDRA_FULL_ERROR", None)


def main() -> None:
    """The ``pricebench`` console script."""
    with _config_errors_in_one_line():
        _app()


if __name__ == "__main__":
    main()
