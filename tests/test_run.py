"""The one path from a composed config to a stored run, in-process: settings, the order a run's
files are written in, the predictor and tracker contracts, and the one not-fitted error."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest

from harness import results
from harness.errors import PricebenchError
from harness.evaluate import RunSettings, evaluate
from harness.predictor import Prediction, PredictorBase, StreamingPredictor, check_fitted
from harness.run import compose, run_config
from predictors.baselines import ConstantPricer, RandomPricer
from tests.conftest import only_run, read_json, reported_line


def _random_cfg(tmp_path: Path, data_dir: Path, *overrides: str):
    return compose(
        ["predictor=random", "tracker=none", f"data.path={data_dir}",
         f"results.dir={tmp_path / 'r'}", "quiet=true", "progress=false", *overrides]
    )  # fmt: skip


def test_a_composed_config_becomes_one_stored_run(tmp_path: Path, data_dir: Path) -> None:
    out = io.StringIO()
    result = run_config(_random_cfg(tmp_path, data_dir), name="random", out=out)
    line = f"random {reported_line('random')}"
    assert result.summary_line == line == result.metrics["summary_line"]
    assert out.getvalue() == f"{line}\nresults: {result.run_dir}\n"
    run = only_run(tmp_path / "r")
    assert run == result.run_dir and read_json(run / "metrics.json") == result.metrics
    assert "optimized_metric: error" in (run / "config.yaml").read_text()


def test_settings_changes_replace_what_the_config_said(tmp_path: Path, data_dir: Path) -> None:
    other = tmp_path / "elsewhere"
    result = run_config(
        _random_cfg(tmp_path, data_dir), name="r42", title="Random 42", results_dir=other,
        chart=False, out=io.StringIO(),
    )  # fmt: skip
    assert result.run_dir.parent == other and not (tmp_path / "r").exists()
    assert result.metrics["predictor"] == "r42" and result.metrics["title"] == "Random 42"
    assert not (result.run_dir / results.CHART_FILE).exists()


def test_evaluate_takes_settings_or_the_same_keywords(tmp_path: Path, data_dir: Path) -> None:
    data = {"path": str(data_dir), "size": 20}
    settings = RunSettings(name="c", data=data, config={"x": 1}, results_dir=tmp_path, chart=False)
    by_settings = evaluate(ConstantPricer(5.0), settings, quiet=True, out=io.StringIO())
    by_keywords = evaluate(
        ConstantPricer(5.0), name="c", data=data, config={"x": 1}, results_dir=tmp_path,
        chart=False, quiet=True, out=io.StringIO(),
    )  # fmt: skip
    assert by_settings.summary_line == by_keywords.summary_line
    assert by_settings.metrics["n"] == 20 and by_settings.metrics["canonical"] is False


def test_a_runs_files_are_written_in_order_metrics_last(tmp_path: Path) -> None:
    seen: list[set[str]] = []

    def names() -> set[str]:
        (folder,) = tmp_path.iterdir()
        return {p.name for p in folder.iterdir()}

    def chart(path: Path) -> None:
        seen.append(names())
        results.write_text(path, "png")

    def metrics() -> dict[str, Any]:
        seen.append(names())
        return {"error": 1.0}

    run_dir, written = results.write_run(
        tmp_path, "t", config={"a": 1}, records=[{"i": 0}], metrics=metrics, chart=chart
    )
    before_chart = {"config.yaml", "predictions.jsonl"}
    assert seen == [before_chart, before_chart | {"chart.png"}]
    assert written == results.read_metrics(run_dir) == {"error": 1.0}
    assert results.finished_runs(tmp_path) == [run_dir]


def test_a_failing_metrics_step_leaves_an_unfinished_run(tmp_path: Path) -> None:
    def metrics() -> dict[str, Any]:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        results.write_run(tmp_path, "t", config={}, records=[], metrics=metrics)
    assert results.finished_runs(tmp_path) == []


@pytest.mark.parametrize("what", ["predictor", "tracker"])
def test_a_target_that_is_no_predictor_or_tracker_is_one_line(
    tmp_path: Path, data_dir: Path, what: str
) -> None:
    cfg = _random_cfg(tmp_path, data_dir, f"{what}._target_=builtins.dict")
    with pytest.raises(PricebenchError, match=f"builtins.dict is not a {what}: a {what} has"):
        run_config(cfg, out=io.StringIO())
    assert not (tmp_path / "r").exists()


# --- the predictor contract ---------------------------------------------------------------------


def _fitted_predictors() -> list[Any]:
    from predictors.features import LinearFeatures
    from predictors.text import BagOfWordsLR, Word2VecForest, Word2VecLR, Word2VecSVR

    return [ConstantPricer(), LinearFeatures(), BagOfWordsLR(), Word2VecLR(), Word2VecSVR(),
            Word2VecForest()]  # fmt: skip


@pytest.mark.parametrize("predictor", _fitted_predictors(), ids=lambda p: type(p).__name__)
def test_every_fitted_predictor_refuses_to_predict_unfitted_in_one_way(predictor: Any) -> None:
    with pytest.raises(
        PricebenchError, match=r"^\S.* was not fitted: call fit\(train_items\) first$"
    ):
        predictor.predict([])


def test_check_fitted_reads_named_or_any_learned_state() -> None:
    class Model(PredictorBase):
        name = "model"

    model = Model()
    with pytest.raises(PricebenchError, match="^model was not fitted"):
        check_fitted(model)
    with pytest.raises(PricebenchError, match="^model was not fitted"):
        check_fitted(model, "coef_")
    model.coef_ = 1.0  # type: ignore[attr-defined]
    check_fitted(model)
    check_fitted(model, "coef_")


def test_the_optional_hooks_have_their_defaults() -> None:
    from harness.predictor import label_of, notes_of, requires_fit, run_summary_of
    from predictors.replay import ReplayPricer

    base, plain = PredictorBase(), object()
    for predictor in (base, plain):
        assert requires_fit(predictor) is True and label_of(predictor) is None
        assert run_summary_of(predictor) == {} and notes_of(predictor) == []
    assert requires_fit(RandomPricer()) is False and requires_fit(ConstantPricer(3.0)) is False
    assert label_of(ReplayPricer("x/human.csv")) == "human"
    assert not isinstance(base, StreamingPredictor)


def test_a_streaming_predictor_fills_its_slots_in_any_order(tmp_path: Path, data_dir: Path) -> None:
    class Backwards(PredictorBase):
        requires_fit = False

        def predict_iter(self, items):
            for position in reversed(range(len(items))):
                yield position, Prediction(float(items[position].index))

    assert isinstance(Backwards(), StreamingPredictor)
    result = evaluate(
        Backwards(), name="b", data={"path": str(data_dir), "size": 5}, config={},
        results_dir=tmp_path, chart=False, quiet=True, progress=False, out=io.StringIO(),
    )  # fmt: skip
    assert [r["guess"] for r in result.records] == [0.0, 1.0, 2.0, 3.0, 4.0]
