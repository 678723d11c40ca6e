"""What the W&B worker logs, checked in-process against a stand-in for the wandb module
(the real offline runs are in test_tracking.py)."""

from __future__ import annotations

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
    assert "versions" not in summary and "git" not in summary


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

    def Artifact(self, name: str, type: str, metadata: dict[str, Any]) -> SimpleNamespace:  # noqa: A002, N802
        return SimpleNamespace(name=name, type=type, metadata=metadata, add_dir=lambda d: None)


def test_the_logged_tables_and_artifact_follow_the_registry(run_dir: Path) -> None:
    wandb = FakeWandb()
    run = SimpleNamespace(summary=wandb.summary, log=wandb.logged.update,
                          log_artifact=wandb.artifacts.append)  # fmt: skip
    metrics = results.read_metrics(run_dir)
    records = results.read_predictions(run_dir)
    wandb_worker._fill(wandb, run, run_dir, metrics, records, artifact=True)
    assert wandb.summary == wandb_worker.summary_of(metrics)
    predictions, bands = wandb.tables
    assert len(predictions.rows) == 40 and predictions.columns[0] == "index"
    assert bands.columns == ["band", "n", *BREAKDOWN_METRICS]
    assert sum(row[1] for row in bands.rows) == 40
    _, table, x, y, _ = wandb.logged["error_by_price_band"]
    assert (table, x, y) == (bands, "band", "error")
    (artifact,) = wandb.artifacts
    assert artifact.type == "evaluation"
    assert artifact.metadata == {
        k: metrics[k] for k in ("predictor", "fingerprint", "canonical", "n", *CI_METRICS)
    }
