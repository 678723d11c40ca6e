"""From a composed config to a stored run: the one path that ``pricebench`` (each single run and
each multirun job) and ``pricebench-reproduce`` take.

:func:`compose` composes ``conf/`` as ``pricebench`` does, outside a Hydra app; :func:`run_config`
builds the predictor and tracker a config names, turns the config into :class:`RunSettings` and
evaluates; :func:`objective` is the figure a sweep optimises (``optimized_metric``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from omegaconf import DictConfig, OmegaConf

from harness.errors import PricebenchError
from harness.paths import CONF_DIR
from harness.predictor import Predictor
from harness.tracking import Tracker

if TYPE_CHECKING:  # (numpy and the rest load when a run starts, not for `pricebench --help`)
    from harness.evaluate import RunResult, RunSettings

__all__ = [
    "build",
    "compose",
    "config_error",
    "in_multirun",
    "job_context",
    "objective",
    "optimized_metric",
    "run_config",
    "settings_from",
]

DEFAULT_METRIC = "error"


# Lines of Hydra's and OmegaConf's errors that locate rather than explain: left out.
_DETAIL_LINES = ("full_key:", "object_type=", "reference_type=", "Config search path", "provider=")


def config_error(exc: BaseException) -> str:
    """A Hydra or OmegaConf error about the config, as one line: what is wrong (and what the
    choices are, where Hydra lists them), without OmegaConf's key and type detail lines."""
    parts: list[str] = []
    for error in (exc, exc.__cause__):
        if error is None or (parts and str(error) in str(exc)):
            continue
        kept: list[str] = []
        for line in str(error).splitlines():
            text = line.strip()
            if not text or text.startswith(_DETAIL_LINES):
                continue
            if line[:1].isspace() and kept:  # a listed option: joined to the line above
                kept[-1] += (" " if kept[-1].endswith(":") else ", ") + text
            else:
                kept.append(text)
        parts.append(" ".join(k if k.endswith((".", ":")) else k + ";" for k in kept).rstrip(";"))
    return ": ".join(part for part in parts if part) or type(exc).__name__


def compose(overrides: Sequence[str] = (), config_name: str = "config") -> DictConfig:
    """``conf/<config_name>.yaml`` composed with ``overrides``, as ``pricebench`` composes it;
    a config that does not compose is one clear :class:`PricebenchError`."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    from harness import schema

    schema.register()
    try:
        with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
            return hydra_compose(config_name, overrides=list(overrides))
    except (HydraException, OmegaConfBaseException) as exc:
        raise PricebenchError(config_error(exc)) from None


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


def _built(node: DictConfig, what: str, contract: type) -> Any:
    """``build(node)``, refused in one line unless it has what a ``what`` must have."""
    built = build(node, what)
    if not isinstance(built, contract):
        members = "fit and predict" if contract is Predictor else "start, close and log_run"
        target = node.get("_target_", "?")
        raise PricebenchError(f"{target} is not a {what}: a {what} has {members}")
    return built


def _hydra_config() -> Any:
    from hydra.core.hydra_config import HydraConfig

    return HydraConfig.get() if HydraConfig.initialized() else None


def in_multirun() -> bool:
    """Whether this process is running one job of a Hydra multirun."""
    from hydra.types import RunMode

    hc = _hydra_config()
    return hc is not None and hc.mode == RunMode.MULTIRUN


def job_context() -> dict[str, Any]:
    """In a multirun: this job's number and the sweep's name (its output folder's last parts)."""
    if not in_multirun():
        return {}
    hc = _hydra_config()
    sweep = "_".join(Path(hc.sweep.dir).parts[-2:])
    return {"job_num": OmegaConf.select(hc, "job.num", default=None), "sweep": sweep}


def _predictor_choice() -> str | None:
    hc = _hydra_config()
    return None if hc is None else hc.runtime.choices.get("predictor")


def optimized_metric(cfg: DictConfig) -> str:
    """The metric a sweep optimises (``optimized_metric``, default ``error``), checked against the
    metric registry: one that ranks runs (it has a better direction)."""
    from harness.metrics import METRICS

    name = str(cfg.get("optimized_metric") or DEFAULT_METRIC)
    metric = METRICS.get(name)
    if metric is None or metric.higher_is_better is None:
        choices = ", ".join(n for n, m in METRICS.items() if m.higher_is_better is not None)
        raise PricebenchError(f"optimized_metric={name} is not a metric to optimise: use {choices}")
    return name


def objective(cfg: DictConfig, metrics: dict[str, Any]) -> float:
    """The run's value of the optimised metric, which the Hydra task returns to the sweeper."""
    return float(metrics[optimized_metric(cfg)])


def resolved(cfg: DictConfig) -> dict[str, Any]:
    """The composed config as plain values, or one line saying why it does not resolve."""
    from omegaconf.errors import OmegaConfBaseException

    try:
        plain = OmegaConf.to_container(cfg, resolve=True)
    except OmegaConfBaseException as exc:
        raise PricebenchError(
            f"the configuration does not resolve: {exc}".splitlines()[0]
        ) from None
    assert isinstance(plain, dict)
    return {str(key): value for key, value in plain.items()}


def settings_from(cfg: DictConfig, name: str, plain: dict[str, Any] | None = None) -> RunSettings:
    """The run settings a composed config holds (``plain``: the config already resolved)."""
    from harness.evaluate import RunSettings

    plain = resolved(cfg) if plain is None else plain
    return RunSettings(
        name=name,
        data=plain["data"],
        config=plain,
        results_dir=cfg.results.dir,
        title=cfg.get("title"),
        quiet=bool(cfg.get("quiet", False)),
        progress=bool(cfg.get("progress", True)),
        colour=cfg.get("color", "auto"),
        chart=bool(cfg.get("chart", True)),
        tracker_context=job_context(),
    )


def run_config(
    cfg: DictConfig, *, name: str | None = None, out: TextIO | None = None, **changes: Any
) -> RunResult:
    """One evaluation from a composed config, stored in the results store and tracked.

    The run's name is ``name``, else the config's ``name``, else the predictor config chosen,
    else the predictor's class; ``changes`` replace :class:`RunSettings` fields the config set.
    """
    from harness.config_check import check_config
    from harness.evaluate import evaluate
    from harness.preflight import check_writable

    plain = resolved(cfg)
    optimized_metric(cfg)  # a misspelt metric fails now, not after the run
    check_config(cfg)  # types and ranges, before anything is built
    check_writable(cfg, changes.get("results_dir"))  # where it writes, before anything is paid
    predictor: Predictor = _built(cfg.predictor, "predictor", Predictor)
    tracker: Tracker | None = None
    if cfg.get("tracker"):
        tracker = _built(cfg.tracker, "tracker", Tracker)
    name = name or cfg.get("name") or _predictor_choice() or type(predictor).__name__
    settings = settings_from(cfg, name, plain)
    return evaluate(predictor, settings, tracker=tracker, out=out, **changes)
