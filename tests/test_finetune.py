"""The fine-tuning workflow end to end: `pricebench-finetune` against a loopback server that
implements files, jobs, events and chat completions; then the fine-tuned model is evaluated."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from finetune.data import training_example
from harness.data import load_dataset
from harness.errors import PricebenchError
from harness.registry import find_job, read_registry, record_job
from tests.conftest import DATA_DIR, run_cli
from tests.forked import run_module
from tests.openai_server import FakeOpenAI, Reply
from tests.test_tracking import inspect_records, inspect_summary, wandb_runs

KEY = "sk-" + "test-FINETUNEKEY000000000000000000"  # a fake key, built so no scanner mistakes it


def finetune(
    tmp_path: Path, server: FakeOpenAI, *args: str, env: dict | None = None, popen: bool = False
):
    command = [
        sys.executable,
        "-m",
        "finetune.cli",
        f"base_url={server.base_url}",
        f"results.dir={tmp_path}/results",
        "poll_seconds=0.01",
        *args,
    ]
    full_env = {
        **os.environ,
        "PRICEBENCH_DATA": str(DATA_DIR),
        "OPENAI_API_KEY": KEY,
        "WANDB_DIR": str(tmp_path),
        "WANDB_DATA_DIR": str(tmp_path / "wandb-data"),  # W&B stages artifact files there
        **(env or {}),
    }
    for name in ("WANDB_MODE", "WANDB_API_KEY"):
        full_env.pop(name, None)
    if popen:
        return subprocess.Popen(
            command,
            cwd=tmp_path,
            env=full_env,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
    return run_module(command[2], command[3:], tmp_path, full_env)  # python -m <module> ...


def _clock(created_at: int) -> str:
    return datetime.fromtimestamp(created_at, UTC).strftime("%H:%M:%S")


def uploads(server: FakeOpenAI) -> list[dict]:
    return [r for r in server.requests if r["method"] == "POST" and r["path"].endswith("/files")]


@pytest.mark.slow
def test_the_whole_flow_then_evaluating_the_job(tmp_path: Path) -> None:
    with FakeOpenAI(chat=lambda body, n: Reply(text="123.45")) as server:
        proc = finetune(tmp_path, server)
        assert proc.returncode == 0, proc.stderr
        out = tmp_path / "results" / "finetune" / "pricer"

        # the uploaded files are the prepared ones, line by line, in the course's chat format
        train = load_dataset(str(DATA_DIR)).train
        files = {
            f["filename"]: f["content"]
            for f in server.files.values()
            if f["purpose"] == "fine-tune"
        }
        assert files["train.jsonl"] == (out / "train.jsonl").read_bytes()
        assert files["validation.jsonl"] == (out / "validation.jsonl").read_bytes()
        lines = [json.loads(x) for x in files["train.jsonl"].decode().splitlines()]
        assert lines == [training_example(item) for item in train[:200]]
        assert len(files["validation.jsonl"].decode().splitlines()) == 50
        assert lines[0]["messages"][2] == {
            "role": "assistant",
            "content": f"Price is ${train[0].price:.2f}",
        }

        # the job request carries the course's settings and the W&B integration
        (request,) = server.job_requests
        assert request["model"] == "gpt-4o-mini-2024-07-18" and request["seed"] == 42
        assert request["suffix"] == "pricer"
        assert request["method"] == {
            "type": "supervised",
            "supervised": {"hyperparameters": {"n_epochs": 1}},
        }
        assert request["integrations"] == [{"type": "wandb", "wandb": {"project": "pricebench"}}]

        (job,) = server.jobs.values()
        assert job["status"] == "succeeded"
        model = job["fine_tuned_model"]
        assert f"fine-tuned model: {model}" in proc.stdout
        assert (
            f"evaluate it with: pricebench predictor=fine_tuned predictor.job_id={job['id']}"
            in proc.stdout
        )
        assert "training: 200 examples" in proc.stdout and "estimated training:" in proc.stdout
        # every event the server logged, printed once, oldest first, as "HH:MM:SS level: message"
        events = server.job_events[job["id"]]
        assert [e["message"] for e in events] == [
            f"Created fine-tuning job: {job['id']}",
            f"Validating training file: {request['training_file']}",
            "Files validated, moving job to queued state",
            "Fine-tuning job started",
            *(f"Step {n}/5: training loss={round(2 / (n + 1), 4)}" for n in range(1, 6)),
            f"New fine-tuned model created: {model}",
            "The job has successfully completed",
        ]
        printed = [x for x in proc.stdout.splitlines() if re.match(r"\d\d:\d\d:\d\d ", x)]
        assert printed == [f"{_clock(e['created_at'])} info: {e['message']}" for e in events]

        registry = [
            json.loads(x)
            for x in (tmp_path / "results" / "finetunes.jsonl").read_text().splitlines()
        ]
        assert registry[-1]["job_id"] == job["id"] and registry[-1]["model"] == model
        assert registry[-1]["status"] == "succeeded" and registry[-1]["suffix"] == "pricer"

        # the job, followed in W&B (offline), read back with W&B's own reader
        (run,) = wandb_runs(tmp_path)
        seen = inspect_summary(run)
        assert seen["state"] == "finished"
        assert (
            seen["summary"]["status"] == "succeeded"
            and seen["summary"]["fine_tuned_model"] == model
        )
        assert seen["config"]["seed"] == 42 and seen["config"]["job_id"] == job["id"]
        # every step once, training and validation loss at the job's own step (more in
        # tests/test_finetune_wandb.py)
        history = [r["history"]["item"] for r in inspect_records(run) if r["type"] == "history"]
        assert [(r["_step"], r["train_loss"], r["valid_loss"]) for r in history] == [
            (n, round(2 / (n + 1), 4), round(round(2 / (n + 1), 4) * 1.1, 4)) for n in range(1, 6)
        ]

        # evaluating the job by id, and by suffix through the registry
        by_id = run_cli(
            "predictor=fine_tuned",
            f"predictor.job_id={job['id']}",
            "data.size=5",
            f"predictor.base_url={server.base_url}",
            f"cache.dir={tmp_path}/cache",
            f"results.dir={tmp_path}/results",
            cwd=tmp_path,
            env={"OPENAI_API_KEY": KEY},
        )
        assert by_id.returncode == 0, by_id.stderr
        assert {b["model"] for b in server.chat_requests()} == {model}
        by_suffix = run_cli(
            "predictor=fine_tuned",
            "predictor.suffix=pricer",
            "data.size=5",
            f"predictor.base_url={server.base_url}",
            "cache.enabled=false",
            f"results.dir={tmp_path}/results",
            cwd=tmp_path,
            env={"OPENAI_API_KEY": KEY},
        )
        assert by_suffix.returncode == 0, by_suffix.stderr
        assert len(server.chat_requests()) == 10

        # a rerun resumes: nothing is uploaded or created again
        again = finetune(tmp_path, server)
        assert again.returncode == 0, again.stderr
        assert len(uploads(server)) == 2 and len(server.job_requests) == 1
        assert "already uploaded" in again.stdout and "job already created" in again.stdout


@pytest.mark.slow
def test_stages_one_at_a_time(tmp_path: Path) -> None:
    with FakeOpenAI() as server:
        for stage in ("prepare", "upload", "create", "follow"):
            proc = finetune(
                tmp_path, server, f"stage={stage}", "wandb.log=false", "wandb.integration=false"
            )
            assert proc.returncode == 0, (stage, proc.stderr)
            if stage == "prepare":
                assert server.requests == []  # nothing reaches the API before upload
        assert "integrations" not in server.job_requests[0]
        assert "fine-tuned model: ft:gpt-4o-mini-2024-07-18:org-test:pricer:" in proc.stdout
        # a fresh output folder knows no job: follow finds it by suffix in the registry
        by_suffix = finetune(tmp_path, server, "stage=follow", "wandb.log=false",
                             f"output_dir={tmp_path}/elsewhere")  # fmt: skip
        assert by_suffix.returncode == 0, by_suffix.stderr
        (job,) = server.jobs.values()
        assert f"following {job['id']}" in by_suffix.stdout


@pytest.mark.slow
def test_a_failed_job_exits_non_zero_with_its_error(tmp_path: Path) -> None:
    with FakeOpenAI(fail_jobs=True) as server:
        proc = finetune(tmp_path, server, "wandb.log=false")
    assert proc.returncode != 0
    (line,) = [x for x in proc.stderr.splitlines() if x.strip()]
    assert line.startswith("pricebench-finetune: error: fine-tuning job ftjob-")
    assert " failed: " in line and "invalid_training_file" in line


@pytest.mark.slow
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["train_size=5000"], "validation_size"),
        (["train_size=5"], "10"),
    ],
)
def test_oversized_or_undersized_slices_are_refused_before_upload(tmp_path, args, message) -> None:
    with FakeOpenAI() as server:
        proc = finetune(tmp_path, server, *args)
        assert server.requests == []
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert message in proc.stderr


def _train_file(tmp_path: Path, rows: list[dict]) -> Path:
    path = tmp_path / "mytrain.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _test_rows(start: int, stop: int) -> list[dict]:
    with (DATA_DIR / "test.jsonl").open() as f:
        return [json.loads(line) for line in f][start:stop]


@pytest.mark.slow
def test_leakage_is_refused_before_upload(tmp_path: Path) -> None:
    rows = _test_rows(300, 310) + _test_rows(7, 8) + _test_rows(310, 330)  # a fixed-set item
    path = _train_file(tmp_path, rows)
    with FakeOpenAI() as server:
        proc = finetune(
            tmp_path, server, f"data.train_path={path}", "train_size=25", "validation_size=5"
        )
        assert server.requests == []
    assert proc.returncode == 2 and "fixed test set" in proc.stderr


@pytest.mark.slow
def test_malformed_items_are_refused_before_upload(tmp_path: Path) -> None:
    rows = _test_rows(300, 330)
    rows[4]["price"] = 0
    path = _train_file(tmp_path, rows)
    with FakeOpenAI() as server:
        proc = finetune(
            tmp_path, server, f"data.train_path={path}", "train_size=20", "validation_size=5"
        )
        assert server.requests == []
    assert proc.returncode == 2 and "price" in proc.stderr


@pytest.mark.slow
def test_ctrl_c_while_following_leaves_the_job_running(tmp_path: Path) -> None:
    with FakeOpenAI() as server:
        for stage in ("prepare", "upload", "create"):
            assert finetune(tmp_path, server, f"stage={stage}").returncode == 0
        follower = finetune(tmp_path, server, "stage=follow", "poll_seconds=60", popen=True)
        deadline = time.monotonic() + 30
        while (
            not any("/events" in r["path"] for r in server.requests) and time.monotonic() < deadline
        ):
            time.sleep(0.05)
        time.sleep(0.2)
        follower.send_signal(signal.SIGINT)
        out, err = follower.communicate(timeout=30)
        (job,) = server.jobs.values()
    assert follower.returncode == 130
    assert f"pricebench-finetune stage=follow job_id={job['id']}" in err
    assert job["status"] not in ("cancelled", "failed")


def test_the_registry_keeps_one_record_per_job_and_finds_the_newest_by_suffix(
    tmp_path: Path,
) -> None:
    path = tmp_path / "finetunes.jsonl"
    assert read_registry(path) == []
    with pytest.raises(PricebenchError, match=r"no fine-tuning job with suffix 'pricer' in "):
        find_job(path, "pricer")
    record_job(path, {"job_id": "ftjob-1", "suffix": "pricer", "model": None, "status": "queued"})
    record_job(path, {"job_id": "ftjob-2", "suffix": "other", "model": None, "status": "queued"})
    record_job(path, {"job_id": "ftjob-3", "suffix": "pricer", "model": None, "status": "running"})
    record_job(path, {"job_id": "ftjob-1", "model": "ft:a", "status": "succeeded", "seed": None})
    rows = [json.loads(x) for x in path.read_text().splitlines()]
    assert rows == read_registry(path)
    assert rows == [
        {"job_id": "ftjob-1", "suffix": "pricer", "model": "ft:a", "status": "succeeded"},
        {"job_id": "ftjob-2", "suffix": "other", "model": None, "status": "queued"},
        {"job_id": "ftjob-3", "suffix": "pricer", "model": None, "status": "running"},
    ]
    assert find_job(path, "pricer")["job_id"] == "ftjob-3"
    assert find_job(path, "other")["job_id"] == "ftjob-2"
