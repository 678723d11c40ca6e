"""The fine-tuning job in W&B (issue 12, row 12): one run per job, its id the job's, every step
of the job's result file at its own step, the training files as an artifact; following again
resumes that run and drops no row. Read back with W&B's own reader from the offline run files."""

from __future__ import annotations

import base64
import hashlib
import json
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from finetune import jobs
from tests.openai_server import TOTAL_STEPS, FakeOpenAI
from tests.test_finetune import finetune
from tests.test_tracking import inspect_records, inspect_summary, wandb_runs


def _history(run: Path) -> list[dict]:
    """The run's history rows, without W&B's own keys other than ``_step``."""
    rows = [r["history"]["item"] for r in inspect_records(run) if r.get("type") == "history"]
    return [{k: v for k, v in r.items() if k == "_step" or not k.startswith("_")} for r in rows]


def _md5(path: Path) -> str:
    return base64.b64encode(hashlib.md5(path.read_bytes()).digest()).decode()


class SparseEvents(FakeOpenAI):
    """A job whose metric events come for odd steps only and whose result file has a validation
    loss at steps 1, 3 and 5 only (the real API computes it periodically): W&B must still get
    every step of the result file."""

    def _event(self, job_id: str, message: str, level: str = "info", data: dict | None = None):
        if data and data.get("step", 1) % 2 == 0:
            return
        super()._event(job_id, message, level, data)

    def _finish(self, job: dict) -> dict:
        finished = super()._finish(job)
        (result,) = finished["result_files"]
        lines = self.files[result]["content"].decode().splitlines()
        header, rows = lines[0], [line.split(",") for line in lines[1:]]
        for row in rows:
            if int(row[0]) % 2 == 0:
                row[3] = row[4] = ""  # no validation at even steps
        text = "\n".join([header, *(",".join(r) for r in rows)])
        self.files[result]["content"] = text.encode()
        return finished


def _expected_rows(valid_steps: range | list[int] = range(1, TOTAL_STEPS + 1)) -> list[dict]:
    """The fake server's rows (tests/openai_server.py ``_metric_rows``), as W&B should hold them."""
    rows = []
    for step in range(1, TOTAL_STEPS + 1):
        loss = round(2.0 / (step + 1), 4)
        row: dict[str, Any] = {"_step": step, "train_loss": loss,
                               "train_accuracy": round(1 - loss / 2, 4)}  # fmt: skip
        if step in valid_steps:
            row["valid_loss"] = round(loss * 1.1, 4)
            row["valid_mean_token_accuracy"] = round(1 - loss / 2.5, 4)
        rows.append(row)
    return rows


def _env(tmp_path: Path) -> dict[str, str]:
    # W&B stages artifact files under $HOME/.local/share/wandb: keep them in the test's folder
    return {"HOME": str(tmp_path), "WANDB_DATA_DIR": str(tmp_path / "wandb-data")}


def _same(a: list[dict], b: list[dict]) -> bool:
    """Rows equal, numbers compared as W&B stores them (whole floats come back as ints)."""
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True) or all(
        x.keys() == y.keys() and all(float(x[k]) == float(y[k]) for k in x)
        for x, y in zip(a, b, strict=True)
    )


@pytest.mark.slow
def test_one_run_per_job_with_every_step_and_the_training_files(tmp_path: Path) -> None:
    with FakeOpenAI() as server:
        proc = finetune(tmp_path, server, env=_env(tmp_path))
        assert proc.returncode == 0, proc.stderr
        (job,) = server.jobs.values()

        (run,) = wandb_runs(tmp_path)
        assert run.name.endswith(f"-{job['id']}")  # W&B names the folder after the run id
        seen = inspect_summary(run)
        assert seen["run_id"] == job["id"] and seen["state"] == "finished"
        assert seen["summary"]["status"] == "succeeded"
        assert seen["summary"]["fine_tuned_model"] == job["fine_tuned_model"]
        assert seen["config"]["job_id"] == job["id"]
        # every step of the job once, at its own step, training and validation loss together
        history = _history(run)
        assert [r["_step"] for r in history] == list(range(1, TOTAL_STEPS + 1))
        assert _same(history, _expected_rows())

        # the prepared files, as uploaded, in one artifact
        out = tmp_path / "results" / "finetune" / "pricer"
        (artifact,) = [r["artifact"] for r in inspect_records(run) if r.get("type") == "artifact"]
        contents = {c["path"]: c for c in artifact["manifest"]["contents"]}
        assert sorted(contents) == ["train.jsonl", "validation.jsonl"]
        for name in contents:
            assert contents[name]["digest"] == _md5(out / name)
        files = {f["filename"]: f for f in server.files.values() if f["purpose"] == "fine-tune"}
        assert files["train.jsonl"]["content"] == (out / "train.jsonl").read_bytes()

        # following again resumes the same run: nothing new, so nothing is logged twice
        again = finetune(tmp_path, server, "stage=follow", env=_env(tmp_path))
        assert again.returncode == 0, again.stderr
        assert wandb_runs(tmp_path) == [run]
        assert f"W&B run {job['id']} already holds this job" in again.stdout
        (record,) = [r for r in _registry(tmp_path) if r["job_id"] == job["id"]]
        assert record["wandb"] == {"run_id": job["id"], "project": "pricebench", "entity": None,
                                   "step": TOTAL_STEPS, "status": "succeeded"}  # fmt: skip


def _registry(tmp_path: Path) -> list[dict]:
    text = (tmp_path / "results" / "finetunes.jsonl").read_text()
    return [json.loads(x) for x in text.splitlines()]


@pytest.mark.slow
def test_steps_that_only_the_result_file_holds_are_logged_too(tmp_path: Path) -> None:
    with SparseEvents() as server:
        proc = finetune(tmp_path, server, env=_env(tmp_path))
        assert proc.returncode == 0, proc.stderr
    (run,) = wandb_runs(tmp_path)
    history = _history(run)
    assert [r["_step"] for r in history] == [1, 2, 3, 4, 5]
    assert _same(history, _expected_rows(valid_steps=[1, 3, 5]))
    assert [r["_step"] for r in history if "valid_loss" in r] == [1, 3, 5]


@pytest.mark.slow
def test_following_again_with_wandb_logs_the_whole_job_once(tmp_path: Path) -> None:
    with FakeOpenAI() as server:
        first = finetune(tmp_path, server, "wandb.log=false", env=_env(tmp_path))
        assert first.returncode == 0, first.stderr
        assert wandb_runs(tmp_path) == []
        for _ in range(2):
            again = finetune(tmp_path, server, "stage=follow", env=_env(tmp_path))
            assert again.returncode == 0, again.stderr
        (job,) = server.jobs.values()
    (run,) = wandb_runs(tmp_path)
    assert inspect_summary(run)["run_id"] == job["id"]
    assert [r["_step"] for r in _history(run)] == list(range(1, TOTAL_STEPS + 1))
    assert "Tried to log to step" not in first.stderr + again.stderr


def test_the_run_id_is_the_job_id_with_what_wandb_refuses_replaced() -> None:
    assert jobs.wandb_run_id("ftjob-abc123XYZ") == "ftjob-abc123XYZ"
    assert jobs.wandb_run_id("ft:job/1#2?3;4,5'6 7") == "ft-job-1-2-3-4-5-6-7"


def test_rows_per_step_merge_events_and_the_result_file() -> None:
    events = [
        {"step": 1, "train_loss": 1.0, "train_mean_token_accuracy": 0.5, "total_steps": 3},
        {"step": 3, "train_loss": 0.4, "full_valid_loss": 0.6, "total_steps": 3},
        {"step": "x", "train_loss": 9.0},  # no usable step: ignored
    ]
    result = [
        {"step": 2.0, "train_loss": 0.7, "train_accuracy": 0.6},
        {"step": 1.0, "train_loss": 1.01, "train_accuracy": 0.51, "valid_loss": 1.2},
        {"step": 3.0, "train_loss": 0.4},
    ]
    assert jobs.step_rows(events, result) == [
        (1, {"train_loss": 1.01, "train_accuracy": 0.51, "valid_loss": 1.2}),
        (2, {"train_loss": 0.7, "train_accuracy": 0.6}),
        (3, {"train_loss": 0.4, "full_valid_loss": 0.6}),
    ]
    assert jobs.step_rows([], []) == []


class _FakeRun:
    def __init__(self, starting_step: int) -> None:
        self.starting_step = starting_step
        self.logged: list[tuple[int, dict]] = []
        self.summary: dict[str, Any] = {}
        self.artifacts: list[Any] = []
        self.dir = "/nowhere/files"

    def log(self, data: dict, step: int) -> None:
        self.logged.append((step, data))

    def log_artifact(self, artifact: Any) -> None:
        self.artifacts.append(artifact)

    def finish(self) -> None:
        pass


def test_a_resumed_run_gets_only_the_steps_it_lacks(monkeypatch, tmp_path: Path) -> None:
    # Online, W&B tells where a resumed run stands (starting_step); rows before it are skipped
    # rather than sent and dropped. Offline it cannot know: the registry's record says.
    calls: list[dict] = []
    run = _FakeRun(starting_step=3)

    def init(**kwargs: Any) -> _FakeRun:
        calls.append(kwargs)
        return run

    fake = types.SimpleNamespace(init=init, Settings=lambda **k: k, Artifact=None)
    monkeypatch.setitem(sys.modules, "wandb", fake)
    job = types.SimpleNamespace(id="ftjob-7", status="succeeded", fine_tuned_model="ft:x",
                                trained_tokens=10)  # fmt: skip
    rows = [{"step": float(s), "train_loss": 1.0 / s} for s in range(1, 6)]
    last = jobs.log_to_wandb({"mode": "online"}, {"suffix": "p"}, job, [], rows, logged_step=1)
    assert calls[0]["id"] == "ftjob-7" and calls[0]["resume"] == "allow"
    assert [step for step, _ in run.logged] == [3, 4, 5]
    assert last == 5

    run.logged.clear()
    run.starting_step = 0  # offline: W&B knows nothing of the earlier run
    jobs.log_to_wandb({"mode": "offline"}, {"suffix": "p"}, job, [], rows, logged_step=4)
    assert [step for step, _ in run.logged] == [5]
