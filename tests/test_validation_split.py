"""``data.split=validation``: tuning on items held out of the training pool, never on the fixed
test set. The tuning experiments (conf/hparams_search/search_ridge, search_gbm, search_ensemble)
choose it, and a tuning run gives the same figures whatever the fixed test set's prices are."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from hydra import compose, initialize_config_dir

from harness import leaderboard_cli, schema
from harness.data import CANONICAL_FINGERPRINT, load_dataset
from harness.errors import PricebenchError
from harness.paths import CONF_DIR
from tests.conftest import read_json, run_cli, run_dirs
from tests.test_sweeps import sweep_dir

TUNING = ("search_ridge", "search_gbm", "search_ensemble")


def test_a_validation_split_scores_pool_items_and_trains_on_the_others(data_dir: Path) -> None:
    fixed = load_dataset(str(data_dir), need_train=True)
    held = load_dataset(str(data_dir), split="validation", validation_size=400)
    assert held.split == "validation" and fixed.split == "test"
    scored, trained = {i.text for i in held.test}, {i.text for i in held.train}
    assert len(held.test) == len(scored) == 400
    assert not scored & trained  # an item held out takes its text's copies with it
    assert scored | trained == {i.text for i in fixed.train}  # the whole pool, split in two
    copies = len(fixed.train) - len({i.text for i in fixed.train})
    assert len(fixed.train) - 400 - copies <= len(held.train) < len(fixed.train) - 400
    assert not (scored | trained) & {i.text for i in fixed.test}  # no item of the fixed 250
    assert held.fingerprint != CANONICAL_FINGERPRINT and held.canonical is False
    again = load_dataset(str(data_dir), split="validation", validation_size=400)
    other = load_dataset(str(data_dir), split="validation", validation_size=400, validation_seed=7)
    assert [i.text for i in again.test] == [i.text for i in held.test]
    assert {i.text for i in other.test} != scored


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"split": "valid"}, "data.split must be one of test, validation, not 'valid'"),
        ({"split": "validation", "validation_size": 1999}, "leaves no training items"),
        ({"split": "validation", "validation_size": 0}, "validation_size must be a positive"),
    ],
)
def test_bad_split_settings_are_one_line(data_dir: Path, settings: dict, message: str) -> None:
    with pytest.raises(PricebenchError, match=message):
        load_dataset(str(data_dir), **settings)


def test_a_validation_run_is_stored_as_one_and_never_ranked_with_the_test_set(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    proc = run_cli("predictor=constant", "data.split=validation", "chart=false",
                   f"results.dir={tmp_path}/r", cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    (run,) = run_dirs(tmp_path / "r")
    metrics = read_json(run / "metrics.json")
    assert metrics["split"] == "validation" and metrics["canonical"] is False
    assert metrics["n"] == 400 and metrics["train"]["n"] < 1599
    assert "held out of the training pool (data.split=validation" in proc.stdout + proc.stderr
    leaderboard_cli.main(["--results", f"{tmp_path}/r", "--bootstrap", "20"])
    board = capsys.readouterr()
    assert "never ranked with the canonical 250 items" in board.out + board.err


@pytest.mark.parametrize("search", TUNING)
def test_every_tuning_experiment_scores_a_validation_split(search: str) -> None:
    schema.register()
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        config = compose("config", [f"hparams_search={search}"], return_hydra_config=True)
    assert config.data.split == "validation"
    assert config.hydra.sweeper.params  # it searches something


def _poisoned_copy(data_dir: Path, folder: Path) -> Path:
    """The data with every price of the fixed 250 test items changed (the pool left as it is)."""
    folder.mkdir()
    lines = (data_dir / "test.jsonl").read_text().splitlines()
    rows = [json.loads(line) for line in lines]
    for row in rows[:250]:
        row["price"] = round(row["price"] * 7 + 3, 2)
    (folder / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (folder / "train_sample.jsonl").write_text((data_dir / "train_sample.jsonl").read_text())
    return folder


@pytest.mark.slow
def test_the_tuning_experiment_never_reads_the_fixed_test_sets_prices(
    tmp_path: Path, data_dir: Path
) -> None:
    found = {}
    for name, data in (("real", data_dir), ("poisoned", _poisoned_copy(data_dir, tmp_path / "p"))):
        cwd = tmp_path / name
        cwd.mkdir()
        proc = run_cli("-m", "hparams_search=search_ridge", "hydra.sweeper.n_trials=2",
                       f"data.path={data}", "data.validation_size=150", "data.train_size=400",
                       f"results.dir={cwd}/r", cwd=cwd)  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        runs = [read_json(run / "metrics.json") for run in run_dirs(cwd / "r")]
        assert len(runs) == 2 and all(m["split"] == "validation" for m in runs)
        results = yaml.safe_load((sweep_dir(cwd) / "optimization_results.yaml").read_text())
        found[name] = (
            sorted((m["fingerprint"], m["error"], m["rmsle"], m["hit_rate"]) for m in runs),
            results["best_params"],
            results["best_value"],
        )
    assert found["real"] == found["poisoned"]
