"""What the W&B worker logs, checked in-process against a stand-in for the wandb module
(the real offline runs are in test_tracking.py)."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from harness import results, wandb_worker
from harness.metrics import BREAKDOWN_METRICS, CI_METRICS, METRICS, score, summarise, summary_line


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    """A results folder as evaluate writes it, for 40 made-up items."""
    rng = np.random.default_rng(3)
    truths = rng.uniform(5, 800, 40)
    guesses = truths * rng.uniform(0.3, 1.8, 40)
    scores = score(truths, guesses)
    summary = summarise(scores)
    metrics = {
        "predictor": "p", "title": "p", **summary, "summary_line": summary_line("p", summary),
        "fingerprint": "f" * 64, "canonical": False, "train": {"n": 0},
        "timings": {"predict_s": 1.5}, "versions": {"numpy": "2"}, "git": {"commit": "abc"},
    }  # fmt: skip
    records = [
        {"index": i, "title": f"item {i}", "truth": float(t), "guess": float(scores.guess[i]),
         "error": float(scores.error[i]), "sle": float(scores.sle[i]), "colour": scores.colour[i]}
        for i, t in enumerate(truths)
    ]  # fmt: skip
    results.write_jsonl(tmp_path / results.PREDICTIONS_FILE, records)
    results.write_json(tmp_path / results.METRICS_FILE, metrics)
    return tmp_path


def test_the_summary_carries_every_metric_of_the_registry(run_dir: Path) -> None:
    metrics = results.read_metrics(run_dir)
    summary = wandb_worker.summary_of(metrics)
    for name in METRICS:
        assert summary[name] == metrics[name], name
    assert summary["n"] == 40 and summary["clipped"] == metrics["clipped"]
    assert summary["timings"] == {"predict_s": 1.5} and summary["summary_line"].startswith("p ")
    assert "versions" not in summary and summary["git"] == {"commit": "abc"}


class FakeWandb:
    """Records what _fill asks of the wandb module and of the run."""

    def __init__(self) -> None:
        self.tables: list[SimpleNamespace] = []
        self.logged: dict[str, Any] = {}
        self.summary: dict[str, Any] = {}
        self.artifacts: list[SimpleNamespace] = []
        self.plot = SimpleNamespace(
            scatter=lambda table, x, y, title: ("scatter", x, y, title),
            bar=lambda table, x, y, title: ("bar", table, x, y, title),
        )

    def Table(self, columns: list[str], rows: list[list[Any]]) -> SimpleNamespace:  # noqa: N802
        table = SimpleNamespace(columns=columns, rows=rows)
        self.tables.append(table)
        return table

    def Image(self, path: str, caption: str) -> tuple[str, str]:  # noqa: N802
        return (path, caption)

    def Artifact(self, name: str, type: str, metadata: dict[str, Any], **kw: Any) -> Any:  # noqa: A002, N802
        files: dict[str, io.StringIO] = {}

        @contextmanager
        def new_file(path: str, mode: str, encoding: str) -> Iterator[io.StringIO]:
            files[path] = io.StringIO()
            yield files[path]

        return SimpleNamespace(name=name, type=type, metadata=metadata, files=files,
                               add_dir=lambda d: None, new_file=new_file)  # fmt: skip


def test_the_logged_tables_and_artifact_follow_the_registry(run_dir: Path) -> None:
    wandb = FakeWandb()
    run = SimpleNamespace(summary=wandb.summary, log=wandb.logged.update,
                          log_artifact=wandb.artifacts.append)  # fmt: skip
    metrics = results.read_metrics(run_dir)
    records = results.read_predictions(run_dir)
    wandb_worker._fill(wandb, run, run_dir, metrics, records)
    assert wandb.summary == wandb_worker.summary_of(metrics)
    predictions, bands = wandb.tables
    assert len(predictions.rows) == 40 and predictions.columns[0] == "index"
    assert bands.columns == ["band", "n", *BREAKDOWN_METRICS]
    assert sum(row[1] for row in bands.rows) == 40
    _, table, x, y, _ = wandb.logged["error_by_price_band"]
    assert (table, x, y) == (bands, "band", "error")
    assert wandb.artifacts == []  # the artifacts are _lineage's


def test_the_lineage_artifacts_offline(run_dir: Path) -> None:
    wandb = FakeWandb()
    used: list[tuple[Any, dict[str, Any]]] = []
    logged: list[tuple[Any, list[str]]] = []
    run = SimpleNamespace(
        _log_artifact=lambda artifact, **kw: used.append((artifact, kw)),
        log_artifact=lambda artifact, aliases: logged.append((artifact, aliases)),
    )
    metrics = results.read_metrics(run_dir)
    records = results.read_predictions(run_dir)
    config = {"predictor": {"_target_": "x.Y", "k": 3}}
    config |= wandb_worker.lineage_config(metrics, config)
    assert config["git_commit"] == "abc" and config["git_dirty"] is None
    wandb_worker._lineage(wandb, run, run_dir, metrics, records, config, "offline")
    ((testset, how),) = used
    assert how == {"is_user_created": True, "use_after_commit": True}
    assert (testset.name, testset.type) == ("testset-ffffffffffff", "dataset")
    rows = testset.files["testset.jsonl"].getvalue().splitlines()
    assert len(rows) == 40 and json.loads(rows[0]) == {
        "index": 0, "title": "item 0", "truth": records[0]["truth"]
    }  # fmt: skip
    ((artifact, aliases),) = logged
    assert artifact.type == "evaluation" and aliases == ["latest"]
    assert artifact.name == config["evaluation_artifact"]
    assert artifact.name == f"eval-p-{wandb_worker.config_hash(config['predictor'])}"
    assert artifact.metadata == {
        k: metrics[k] for k in ("predictor", "fingerprint", "canonical", "n", *CI_METRICS)
    } | {"edition": "2024", "run_dir": run_dir.name, "predictor_config": config["predictor"],
         "dataset": "testset-ffffffffffff", "git_commit": "abc", "git_dirty": None}  # fmt: skip


def _job(run_dir: Path, **settings: Any) -> dict[str, Any]:
    return {
        "run_dir": str(run_dir), "name": "p", "mode": "offline", "config": {},
        "settings": {"project": "pricebench", **settings},
    }  # fmt: skip


class NeverStarted:
    """A wandb module whose ``init`` must not be reached."""

    def Settings(self, **kwargs: Any) -> dict[str, Any]:  # noqa: N802
        return kwargs

    def init(self, **kwargs: Any) -> None:
        raise AssertionError(f"wandb.init was called with dir={kwargs.get('dir')}")


def _a_file(tmp_path: Path) -> Path:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    return blocker


def test_an_unwritable_tracker_dir_is_one_warning_not_a_traceback(
    run_dir: Path, tmp_path_factory: pytest.TempPathFactory, capsys: pytest.CaptureFixture
) -> None:
    blocker = _a_file(tmp_path_factory.mktemp("w"))
    wandb_worker.log_run(NeverStarted(), _job(run_dir, dir=f"{blocker}/w"))
    err = capsys.readouterr().err.splitlines()
    assert err == [
        f"pricebench: warning: W&B cannot write to {blocker}/w ({blocker} is a file, not a "
        f"folder); the run was not logged to W&B; the results in {run_dir} are complete"
    ]


def test_an_unwritable_wandb_dir_is_not_replaced_by_a_temporary_folder(
    run_dir: Path, tmp_path_factory: pytest.TempPathFactory, capsys: pytest.CaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    blocker = _a_file(tmp_path_factory.mktemp("w"))
    monkeypatch.setenv("WANDB_DIR", str(blocker))
    wandb_worker.log_run(NeverStarted(), _job(run_dir))
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(f"pricebench: warning: W&B cannot write to {blocker} ({blocker} is a")


def test_the_worker_is_quiet_on_ctrl_c(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    def interrupted() -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(wandb_worker, "warm_up", interrupted)
    with pytest.raises(SystemExit) as stopped:
        wandb_worker.main()
    assert stopped.value.code == 130
    assert capsys.readouterr() == ("", "")
