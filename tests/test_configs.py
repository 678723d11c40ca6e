"""Every predictor config composes and instantiates cheaply, and follows the predictor contract."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

from harness.paths import CONF_DIR

PREDICTORS = sorted(p.stem for p in (Path(CONF_DIR) / "predictor").glob("*.yaml"))
HEAVY = ("sklearn", "gensim", "openai", "wandb", "matplotlib", "datasets", "torch")


def _compose(*overrides: str):
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        return compose("config", overrides=list(overrides))


def test_there_are_predictor_configs() -> None:
    assert {"random", "constant", "replay"} <= set(PREDICTORS)


@pytest.mark.parametrize("name", PREDICTORS)
def test_every_predictor_config_instantiates(name: str) -> None:
    cfg = _compose(f"predictor={name}")
    predictor = instantiate(cfg.predictor, _convert_="all")
    assert callable(predictor.fit) and callable(predictor.predict)
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
