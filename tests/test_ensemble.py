"""The stacked ensemble (predictors/ensemble.py): its weights, its cross-fitting, its fallback, and
its LLM members' cache and cost guard; one run on the canonical 250 with its default members."""

from __future__ import annotations

import dataclasses
import json
import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from harness import results
from harness.data import Item
from harness.errors import PricebenchError
from harness.evaluate import evaluate
from harness.predictor import Prediction, PredictorBase
from harness.wandb_worker import summary_of
from predictors import cost_guard
from predictors.ensemble import Ensemble, mae_weights
from predictors.llm import ChatPricer
from tests.conftest import run_cli
from tests.llm_helpers import KEY, error_lines
from tests.openai_server import FakeOpenAI

# --- small generated items and cheap members ------------------------------------------------


def items(n: int, first: int = 0, seed: int = 0) -> list[Item]:
    """Items whose text carries two numbers a and b; each price is 0.3 a + 0.7 b."""
    rng = np.random.default_rng(seed)
    made = []
    for index in range(first, first + n):
        a, b, c = (float(v) for v in rng.uniform(1, 500, size=3))
        made.append(Item(index, f"item {index}", 0.3 * a + 0.7 * b, f"a={a} b={b} c={c}"))
    return made


class Reads(PredictorBase):
    """Guesses the number its item's text gives for ``key`` (a, b or c): learns nothing, but
    claims to need training items, so the ensemble cross-fits it."""

    def __init__(self, key: str) -> None:
        self.key = key

    def fit(self, train_items: Sequence[Item]) -> Reads:
        self.fitted_ = True
        return self

    def predict(self, items: Sequence[Item]) -> list[Prediction]:
        found = [re.search(rf"\b{self.key}=([0-9.]+)", item.text) for item in items]
        return [Prediction(float(m.group(1)) if m else 0.0) for m in found]


class Log(list[tuple[str, frozenset[int]]]):
    """What recording members were fitted on and asked about, shared by their copies."""

    def __deepcopy__(self, memo: dict[int, Any]) -> Log:
        return self


class Records(PredictorBase):
    """Logs every fit and predict (item indexes); guesses the truth for an item it was not fitted
    on and 1e6 for one it was, so a leak would show in the guesses too."""

    def __init__(self, log: Log) -> None:
        self.log = log

    def fit(self, train_items: Sequence[Item]) -> Records:
        self.seen_ = frozenset(item.index for item in train_items)
        self.log.append(("fit", self.seen_))
        return self

    def predict(self, items: Sequence[Item]) -> list[Prediction]:
        self.log.append(("predict", frozenset(item.index for item in items)))
        return [Prediction(1e6 if i.index in self.seen_ else i.price) for i in items]


class Budgeted(PredictorBase):
    """A priced member that learns (a cross-fitted LLM): each call costs $1 an item, and stops, as
    the cost guard does, when that is more than its ``max_cost``."""

    def __init__(self, max_cost: float | None = None) -> None:
        self.max_cost = max_cost
        self.limits: list[float | None] = []

    def fit(self, train_items: Sequence[Item]) -> Budgeted:
        self.fitted_ = True
        return self

    def predict(self, items: Sequence[Item]) -> list[Prediction]:
        self.limits.append(self.max_cost)
        if self.max_cost is not None and len(items) > self.max_cost:
            raise PricebenchError(
                f"would cost ${len(items)}, over predictor.max_cost=${self.max_cost:g}"
            )
        self.cost_ = float(len(items))
        return [Prediction(100.0, cost=1.0) for _ in items]

    def run_summary(self) -> dict[str, Any]:
        return {"cost": self.cost_, "requests": 0}


# --- the weights -----------------------------------------------------------------------------


def test_mae_weights_are_non_negative_and_recover_a_known_mix() -> None:
    rng = np.random.default_rng(1)
    guesses = rng.uniform(1, 500, size=(200, 3))
    truths = guesses @ np.array([0.3, 0.7, 0.0])
    assert mae_weights(guesses, truths) == pytest.approx([0.3, 0.7, 0.0], abs=1e-7)
    # a member that only hurts gets weight 0, not a negative one
    weights = mae_weights(np.column_stack([guesses[:, 0], -guesses[:, 0]]), guesses[:, 0] * 2)
    assert weights == pytest.approx([2.0, 0.0], abs=1e-7) and (weights >= 0).all()


def test_an_ensemble_of_members_finds_their_mix_out_of_fold() -> None:
    ensemble = Ensemble({"a": Reads("a"), "b": Reads("b"), "c": Reads("c")}, folds=3)
    ensemble.fit(items(60))
    assert ensemble.weights() == pytest.approx({"a": 0.3, "b": 0.7, "c": 0.0}, abs=1e-6)
    assert not ensemble.fell_back_ and ensemble.blend_error_ == pytest.approx(0, abs=1e-6)
    test = items(5, first=1000, seed=9)
    guesses = [p.guess for p in ensemble.predict(test)]
    assert guesses == pytest.approx([item.price for item in test])
    assert ensemble.predict(test)[0].extra.keys() == {"guess_a", "guess_b", "guess_c"}
    # nothing about a test item's price is read: without prices, the same guesses
    unpriced = [dataclasses.replace(item, price=math.nan) for item in test]
    assert [p.guess for p in ensemble.predict(unpriced)] == guesses


def test_members_may_be_a_list_or_configs() -> None:
    ensemble = Ensemble(
        [Reads("a"), {"_target_": "tests.test_ensemble.Reads", "key": "b"}], folds=2
    ).fit(items(20))
    assert ensemble.weights() == pytest.approx({"reads": 0.3, "reads_2": 0.7}, abs=1e-6)


# --- cross-fitting ---------------------------------------------------------------------------


def test_no_out_of_fold_guess_comes_from_a_model_that_saw_the_item() -> None:
    log = Log()
    pool, test = items(50), items(10, first=500)
    ensemble = Ensemble({"rec": Records(log), "a": Reads("a")}, folds=5, seed=3).fit(pool)
    fits = [seen for kind, seen in log if kind == "fit"]
    asked = [seen for kind, seen in log if kind == "predict"]
    assert len(fits) == 5 + 1 and fits[-1] == {i.index for i in pool}  # K folds, then the pool
    assert len(asked) == 5
    for fitted, predicted in zip(fits, asked, strict=False):  # each fold: disjoint, and the rest
        assert not fitted & predicted and fitted | predicted == {i.index for i in pool}
    assert sorted(i for seen in asked for i in seen) == sorted(i.index for i in pool)  # once each
    assert (ensemble.oof_[:, 0] == ensemble.truths_).all()  # never the 1e6 of a seen item

    guesses = [p.guess for p in ensemble.predict(test)]
    test_indexes = {i.index for i in test}
    assert all(not seen & test_indexes for kind, seen in log if kind == "fit")  # never fitted on
    assert log[-1] == ("predict", frozenset(test_indexes))
    assert guesses == pytest.approx([item.price for item in test])


def test_the_validation_sample_bounds_the_items_the_weights_are_fitted_on() -> None:
    ensemble = Ensemble({"a": Reads("a"), "b": Reads("b")}, folds=4, validation_size=12)
    ensemble.fit(items(40))
    assert ensemble.oof_.shape == (12, 2) and len(ensemble.validation_items_) == 12
    assert ensemble.run_summary()["validation_n"] == 12
    assert ensemble.weights() == pytest.approx({"a": 0.3, "b": 0.7}, abs=1e-6)


# --- the fallback ----------------------------------------------------------------------------


def test_a_blend_no_better_than_its_best_member_out_of_fold_falls_back_to_it() -> None:
    truth = Records(Log())  # guesses the truth of every item it was not fitted on
    ensemble = Ensemble({"a": Reads("a"), "truth": truth}, folds=3).fit(items(30))
    assert ensemble.fell_back_ and ensemble.best_ == "truth"
    assert ensemble.weights() == {"a": 0.0, "truth": 1.0}
    assert ensemble.notes()[-1].endswith("the blend was not better than truth alone, which is kept")
    assert (
        Ensemble({"a": Reads("a"), "truth": truth}, folds=3, fallback=False)
        .fit(items(30))
        .fell_back_
        is False
    )


# --- what a run stores -----------------------------------------------------------------------


def _write(path: Path, made: list[Item]) -> None:
    rows = [{"index": i.index, "title": i.title, "price": i.price, "text": i.text} for i in made]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))


def test_the_weights_reach_metrics_json_the_wandb_summary_and_a_note(tmp_path: Path) -> None:
    _write(tmp_path / "test.jsonl", items(8, first=900, seed=5))
    _write(tmp_path / "train.jsonl", items(30))
    ensemble = Ensemble({"a": Reads("a"), "b": Reads("b")}, folds=3)
    data = {"path": str(tmp_path / "test.jsonl"), "size": 8,
            "train_path": str(tmp_path / "train.jsonl")}  # fmt: skip
    run = evaluate(
        ensemble, name="ensemble", data=data, config={}, results_dir=tmp_path / "r",
        quiet=True, progress=False, chart=False,
    )  # fmt: skip
    metrics = results.read_metrics(run.run_dir)
    assert metrics["weights"] == pytest.approx({"a": 0.3, "b": 0.7}, abs=1e-6)
    assert metrics["folds"] == 3 and metrics["validation_n"] == 30 and not metrics["fell_back"]
    assert summary_of(metrics)["weights"] == metrics["weights"]  # what W&B's summary gets
    (note,) = [n for n in metrics["notes"] if n.startswith("ensemble weights:")]
    assert note.startswith("ensemble weights: a 0.300, b 0.700 (fitted on the out-of-fold")
    assert metrics["error"] == pytest.approx(0, abs=1e-6)
    assert run.records[0].keys() >= {"guess_a", "guess_b"}


# --- a cost budget across calls --------------------------------------------------------------


def test_a_cross_fitted_priced_member_gets_what_its_earlier_calls_left_of_max_cost() -> None:
    member = Budgeted(max_cost=25)
    ensemble = Ensemble({"llm": member, "a": Reads("a")}, folds=2).fit(items(20))
    assert ensemble.budget_left_["llm"] == 25 - 20  # two folds of 10 items each
    assert member.max_cost == 25  # the config's value, given back
    with pytest.raises(PricebenchError) as caught:
        ensemble.predict(items(6, first=100))
    assert str(caught.value) == (
        "ensemble member llm: would cost $6, over predictor.members.llm.max_cost=$5 "
        "($20.0000 of it went to this member's validation requests)"
    )


# --- an LLM member through the CLI -----------------------------------------------------------

LLM_MEMBER = (
    "~predictor@predictor.members.ridge", "~predictor@predictor.members.knn",
    "~predictor@predictor.members.gbm", "+predictor@predictor.members.mean=constant",
    "+predictor@predictor.members.gpt=gpt-4o-mini", "predictor.validation_size=12",
    "data.size=6", "predictor.members.gpt.input_price=1000",
)  # fmt: skip


def _chat_requests(server: FakeOpenAI) -> int:
    return sum(r["path"].endswith("/chat/completions") for r in server.requests)


def _run(tmp_path: Path, *args: str) -> Any:
    """``pricebench predictor=ensemble`` with an LLM member (cache and results in ``tmp_path``),
    as ``tests.llm_helpers.run_llm`` runs a chat predictor; later ``args`` win."""
    return run_cli(
        "predictor=ensemble", "quiet=true", "chart=false", f"cache.dir={tmp_path}/cache",
        f"results.dir={tmp_path}/r", *args, cwd=tmp_path, env={"OPENAI_API_KEY": KEY},
    )  # fmt: skip


def _estimate(test_items: int) -> float:
    """What the cost guard estimates for the first ``test_items`` items of the fixed set."""
    from harness.data import load_dataset
    from tests.conftest import DATA_DIR

    found = load_dataset(str(DATA_DIR), size=test_items, need_train=False).test
    pricer = ChatPricer(input_price=1000, output_price=0.6)
    bodies = [pricer.request_body(item, "gpt-4o-mini") for item in found]
    return cost_guard.estimate(bodies, 1000, 0.6).cost


def _run_here(tmp_path: Path, *args: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """:func:`_run` in this process (the openai SDK's import, ~2 s, is paid once), its metrics."""
    import io

    from harness.run import compose, run_config
    from tests.conftest import DATA_DIR

    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv("PRICEBENCH_DATA", str(DATA_DIR))
    cfg = compose([
        "predictor=ensemble", "quiet=true", "chart=false", "progress=false", "tracker=none",
        f"cache.dir={tmp_path}/cache", f"results.dir={tmp_path}/r", *args,
    ])  # fmt: skip
    return run_config(cfg, out=io.StringIO()).metrics


def test_an_llm_member_predicts_the_validation_items_through_its_cache_and_cost_guard(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with FakeOpenAI() as server:
        member = [f"predictor.members.gpt.base_url={server.base_url}", *LLM_MEMBER]
        metrics = _run_here(tmp_path, *member, monkeypatch=monkeypatch)
        assert _chat_requests(server) == 12 + 6  # the validation items and the test items
        assert metrics["weights"].keys() == {"mean", "gpt"} and metrics["validation_n"] == 12
        assert metrics["members"]["gpt"]["requests"] == 18 and metrics["cost"] > 0

        again = _run_here(tmp_path, *member, monkeypatch=monkeypatch)
        assert _chat_requests(server) == 18  # a rerun: every answer from the cache
        assert again["members"]["gpt"]["cache_hits"] == 18 and again["cost"] == 0

        # enough for the 6 test items alone, not with the 12 validation ones: nothing is sent
        limit = f"predictor.members.gpt.max_cost={_estimate(6) * 1.05:.6f}"
        fresh = f"cache.dir={tmp_path}/fresh"
        stopped = _run(tmp_path, *member, limit, fresh)
        assert _chat_requests(server) == 18  # none more
    assert stopped.returncode == 2
    (line,) = stopped.stderr.strip().splitlines()
    assert error_lines(stopped.stderr) == [line]
    assert re.match(
        r"pricebench: error: ensemble member gpt: this run would cost up to \$[0-9.]+ \(18 "
        r"requests not in the cache: .*over predictor\.members\.gpt\.max_cost=",
        line,
    ), line


# --- the canonical 250 -----------------------------------------------------------------------


@pytest.mark.slow
def test_on_the_canonical_250_the_ensemble_is_no_worse_than_its_best_member(
    tmp_path: Path,
) -> None:
    """Its default members, fitted on the offline pool; each member's test guesses are in the
    run's records (``guess_<member>``: the member refitted on the whole pool, as it runs alone)."""
    from harness.metrics import score, summarise, summary_line
    from tests.conftest import only_run
    from tests.test_learners import OFFLINE_LINES

    # the default 5 folds: the README's line (with 2 folds the blend's weights, fitted on members
    # that saw half the pool, score $105.23, worse than gbm alone: the folds matter)
    proc = run_cli(
        "predictor=ensemble", "quiet=true", "chart=false", f"results.dir={tmp_path}/r",
        cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    run = only_run(tmp_path / "r")
    metrics = results.read_metrics(run)
    records = results.read_predictions(run)
    assert metrics["canonical"] and metrics["train"]["n"] == 1999 and len(records) == 250
    truths = [r["truth"] for r in records]
    lines = {
        name: summary_line(name, summarise(score(truths, [r[f"guess_{name}"] for r in records])))
        for name in metrics["weights"]
    }
    # each member, refitted on the whole pool, guesses exactly what it guesses run alone
    assert lines == {name: f"{name} {line}" for name, line in OFFLINE_LINES.items()}
    members = {name: float(line.split("$")[1].split()[0]) for name, line in OFFLINE_LINES.items()}
    best = min(members.values())
    assert metrics["error"] <= best + 0.50, (metrics["error"], members)
    assert metrics["summary_line"] == "ensemble Error=$103.94 RMSLE=0.80 Hits=33.6%"
    assert all(w >= 0 for w in metrics["weights"].values())
    assert any(n.startswith("ensemble weights: ") for n in metrics["notes"])
