"""Every predictor config composes and instantiates cheaply, and follows the predictor contract."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

from harness.paths import CONF_DIR
from tests.llm_helpers import no_run

PREDICTORS = sorted(p.stem for p in (Path(CONF_DIR) / "predictor").glob("*.yaml"))
HEAVY = ("sklearn", "gensim", "openai", "wandb", "matplotlib", "datasets", "torch")


def _compose(*overrides: str):
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        return compose("config", overrides=list(overrides))


def test_there_are_predictor_configs() -> None:
    assert {"random", "constant", "replay"} <= set(PREDICTORS)


@pytest.mark.parametrize("name", PREDICTORS)
def test_every_predictor_config_instantiates(name: str) -> None:
    from harness.predictor import Predictor

    cfg = _compose(f"predictor={name}")
    predictor = instantiate(cfg.predictor, _convert_="all")
    assert isinstance(predictor, Predictor)  # fit and predict
    learned = (
        [k for k in vars(predictor) if k.endswith("_")] if hasattr(predictor, "__dict__") else []
    )
    assert learned == [], f"{name} learned state in __init__: {learned}"


def test_instantiating_every_config_imports_no_heavy_library() -> None:
    script = (
        "import sys\n"
        "from hydra import compose, initialize_config_dir\n"
        "from hydra.utils import instantiate\n"
        "from harness.paths import CONF_DIR\n"
        f"for name in {PREDICTORS!r}:\n"
        "    with initialize_config_dir(config_dir=CONF_DIR, version_base='1.3'):\n"
        "        instantiate(compose('config', overrides=[f'predictor={name}']).predictor)\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_defaults() -> None:
    cfg = _compose()
    assert cfg.predictor._target_ == "predictors.baselines.ConstantPricer"
    assert cfg.data.size == 250 and cfg.results.dir == "results"
    assert cfg.tracker._target_ == "harness.tracking.WandbTracker"


@pytest.mark.parametrize("name", ["wandb", "none"])
def test_every_tracker_config_meets_the_tracker_contract(name: str) -> None:
    from harness.tracking import Tracker

    tracker = instantiate(_compose(f"tracker={name}").tracker)
    assert isinstance(tracker, Tracker)  # start, close and log_run


# --- the data schema, the optimised metric, the searches -----------------------------------


def _compose_checked(*overrides: str, hydra: bool = False):
    """Composed as `pricebench` composes (the schemas registered); with ``hydra``, the
    ``hydra`` node too."""
    from harness import schema

    schema.register()
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        return compose("config", overrides=list(overrides), return_hydra_config=hydra)


@pytest.mark.parametrize("choice", ["pricer", "hub"])
def test_the_data_group_is_typed_by_its_schema(choice: str) -> None:
    from omegaconf import OmegaConf

    from harness.schema import DataConfig

    cfg = _compose_checked(f"data={choice}", "data.size=100", "data.train_size=7")
    assert OmegaConf.get_type(cfg.data) is DataConfig
    assert (cfg.data.size, cfg.data.train_size) == (100, 7)


@pytest.mark.parametrize(
    "override, key",
    [("data.size=abc", "data.size=abc"), ("data.test_pool=maybe", "data.test_pool=maybe"),
     ("data.train_size=1.5", "data.train_size=1.5")],
)  # fmt: skip
def test_a_data_value_of_the_wrong_type_fails_at_composition(override: str, key: str) -> None:
    from harness.errors import PricebenchError
    from harness.run import compose as compose_run

    with pytest.raises(PricebenchError) as caught:
        compose_run([override])
    message = str(caught.value)
    assert key in message and "\n" not in message


def test_any_config_that_does_not_compose_is_one_line() -> None:
    from harness.errors import PricebenchError
    from harness.run import compose as compose_run

    with pytest.raises(PricebenchError) as caught:
        compose_run(["predictor=nope"])
    message = str(caught.value)
    assert "\n" not in message and "Could not find 'predictor/nope'" in message
    assert "Available options in 'predictor': anthropic, azure," in message
    with pytest.raises(PricebenchError, match=r"'predictor.sed'.*Key 'sed' is not in struct$"):
        compose_run(["predictor.sed=42"])


@pytest.mark.slow
def test_the_cli_says_a_wrong_type_in_one_line(tmp_path: Path) -> None:
    from tests.conftest import run_cli

    proc = run_cli("data.size=abc", f"results.dir={tmp_path}/r", cwd=tmp_path)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.splitlines() == [
        "pricebench: error: Error merging override data.size=abc: Value 'abc' of type 'str' "
        "could not be converted to Integer"
    ]
    assert no_run(tmp_path)


def test_the_optimised_metric_defaults_to_error_and_is_checked() -> None:
    from harness.errors import PricebenchError
    from harness.run import objective

    metrics = {"error": 80.5, "rmsle": 0.6, "hit_rate": 0.52, "bias": 3.0}
    assert _compose().optimized_metric == "error"
    assert objective(_compose(), metrics) == 80.5
    assert objective(_compose("optimized_metric=hit_rate"), metrics) == 0.52
    for wrong in ("bias", "errors"):  # no better direction; no such metric
        with pytest.raises(PricebenchError, match=f"optimized_metric={wrong} is not a metric"):
            objective(_compose(f"optimized_metric={wrong}"), metrics)


SEARCHES = sorted(p.stem for p in (Path(CONF_DIR) / "hparams_search").glob("*.yaml"))


# the searches that experiment/ also holds under their older names (+experiment=search_bow)
COURSE_SEARCHES = ["search_bow", "search_forest", "search_gpt4o_mini"]


def test_there_are_searches() -> None:
    assert sorted([*COURSE_SEARCHES, "search_ensemble", "search_gbm", "search_ridge"]) == SEARCHES


@pytest.mark.parametrize("search", SEARCHES)
def test_a_search_chooses_the_optuna_sweeper_itself(search: str) -> None:
    cfg = _compose_checked(f"hparams_search={search}", hydra=True)
    sweeper = cfg.hydra.sweeper
    assert sweeper._target_.endswith("optuna_sweeper.OptunaSweeper")
    assert sweeper.direction == "minimize" and cfg.optimized_metric == "error"
    assert sweeper.params and all(key.startswith("predictor.") for key in sweeper.params)
    assert cfg.quiet is True  # the search's settings win over config.yaml's


@pytest.mark.parametrize("search", COURSE_SEARCHES)
@pytest.mark.parametrize("sweeper", [[], ["hydra/sweeper=optuna"]])
def test_the_experiment_files_of_the_same_name_still_run_the_same_search(
    search: str, sweeper: list[str]
) -> None:
    new = _compose_checked(f"hparams_search={search}", hydra=True)
    old = _compose_checked(*sweeper, f"+experiment={search}", hydra=True)
    assert old.hydra.sweeper == new.hydra.sweeper
    assert old.predictor == new.predictor and old.quiet == new.quiet


def test_the_prompt_search_starts_from_the_course_prompt() -> None:
    from predictors.prompts import SYSTEM_PROMPT

    cfg = _compose_checked("hparams_search=search_gpt4o_mini", hydra=True)
    choice = cfg.hydra.sweeper.params["predictor.system_prompt"]
    assert choice.startswith(f'choice("{SYSTEM_PROMPT}", ')  # the search's first variant
    assert cfg.predictor.system_prompt == SYSTEM_PROMPT
