"""Entry points. ``pricebench`` is a Hydra app: ``pricebench predictor=random``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import hydra
from omegaconf import DictConfig, OmegaConf

from harness.errors import PricebenchError
from harness.paths import CONF_DIR

if TYPE_CHECKING:
    from harness.evaluate import RunResult

__all__ = ["CONF_DIR", "build", "main", "run"]


def _fail(message: str, code: int = 2) -> None:
    print(f"pricebench: error: {message}", file=sys.stderr)
    sys.exit(code)


def _choice(group: str) -> str | None:
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return None
    return HydraConfig.get().runtime.choices.get(group)


def _sweep_context() -> dict[str, Any]:
    """In a multirun: this job's number and the sweep's name (its output folder's last parts)."""
    from hydra.core.hydra_config import HydraConfig

    if not _is_multirun():
        return {}
    hc = HydraConfig.get()
    sweep = "_".join(Path(hc.sweep.dir).parts[-2:])
    return {"job_num": OmegaConf.select(hc, "job.num", default=None), "sweep": sweep}


def _is_multirun() -> bool:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def build(node: DictConfig, what: str) -> Any:
    """Instantiate a ``_target_`` config, turning a failure into one clear line."""
    from hydra.errors import InstantiationException
    from hydra.utils import instantiate

    try:
        return instantiate(node, _convert_="all")
    except InstantiationException as exc:
        cause = exc.__cause__ or exc
        if isinstance(cause, PricebenchError):
            raise cause from None
        target = node.get("_target_", "?")
        first = str(cause).strip().splitlines()[0] if str(cause).strip() else type(cause).__name__
        raise PricebenchError(f"could not build the {what} {target}: {first}") from None


def run(cfg: DictConfig) -> RunResult:
    """One evaluation from a composed config."""
    from omegaconf.errors import OmegaConfBaseException

    from harness.evaluate import evaluate

    try:
        plain = OmegaConf.to_container(cfg, resolve=True)
    except OmegaConfBaseException as exc:
        raise PricebenchError(
            f"the configuration does not resolve: {exc}".splitlines()[0]
        ) from None
    assert isinstance(plain, dict)
    predictor = build(cfg.predictor, "predictor")
    tracker = build(cfg.tracker, "tracker") if cfg.get("tracker") else None
    name = cfg.get("name") or _choice("predictor") or type(predictor).__name__
    result = evaluate(
        predictor,
        name=name,
        data=plain["data"],
        config=plain,
        results_dir=cfg.results.dir,
        title=cfg.get("title"),
        tracker=tracker,
        quiet=bool(cfg.get("quiet", False)),
        progress=bool(cfg.get("progress", True)),
        colour=cfg.get("color", "auto"),
        chart=bool(cfg.get("chart", True)),
        tracker_context=_sweep_context(),
    )
    return result


def _job_dir_and_overrides() -> tuple[str, list[str]]:
    from hydra.core.hydra_config import HydraConfig

    hc = HydraConfig.get()
    return hc.runtime.output_dir, list(hc.overrides.task)


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="config")
def _app(cfg: DictConfig) -> float | None:
    from harness.sweep import record_job

    try:
        result = run(cfg)
    except PricebenchError as exc:
        if _is_multirun():  # report it and let the other jobs go on
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
    if _is_multirun():
        record_job(*_job_dir_and_overrides(), run_dir=result.run_dir, metrics=result.metrics)
    return result.metrics["error"]


def main() -> None:
    """The ``pricebench`` console script."""
    _app()


if __name__ == "__main__":
    main()
