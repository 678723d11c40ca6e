"""LLM predictors end to end: the `pricebench` CLI, the real openai SDK, real HTTP to a loopback
OpenAI-compatible server that the tests start, and the SQLite response cache."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from harness import results
from tests.conftest import DATA_DIR, REFERENCE_DIR, only_run, read_json, reported_line, run_cli
from tests.llm_helpers import KEY, course_prompts, latest_metrics, latest_run, no_run, run_llm
from tests.openai_server import FakeOpenAI, Reply, closed_port, recorded_replies

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def prompts() -> dict[str, int]:
    """The user message of each fixed-set item, to its index."""
    return course_prompts()


def user_of(body: dict) -> str:
    return next(m["content"] for m in body["messages"] if m["role"] == "user")


def test_a_recorded_run_served_over_http_scores_exactly_and_a_rerun_is_all_cache(
    tmp_path: Path, prompts: dict[str, int]
) -> None:
    replies = recorded_replies(REFERENCE_DIR / "gpt-4o-mini.csv", prompts)
    with FakeOpenAI(chat=replies) as server:
        first = run_llm(tmp_path, server.base_url)
        assert first.returncode == 0, first.stderr
        assert f"gpt-4o-mini {reported_line('gpt-4o-mini')}" in first.stdout.splitlines()
        bodies = server.chat_requests()
        assert len(bodies) == 250
        assert {b["model"] for b in bodies} == {"gpt-4o-mini"}
        assert {(b["seed"], b["max_tokens"]) for b in bodies} == {(42, 5)}
        assert bodies[0]["messages"][0]["content"].startswith("You estimate prices of items")
        assert bodies[0]["messages"][-1] == {"role": "assistant", "content": "Price is $"}
        metrics = latest_metrics(tmp_path)
        assert (metrics["requests"], metrics["cache_hits"], metrics["failed"]) == (250, 0, 0)
        assert metrics["input_tokens"] == 250 * 100 and metrics["output_tokens"] == 250 * 2
        cost = (250 * 100 * 0.15 + 250 * 2 * 0.60) / 1e6
        assert metrics["cost"] == pytest.approx(cost) and metrics["cost_fresh"] == pytest.approx(
            cost
        )
        assert metrics["latency_p50"] > 0 and metrics["latency_p95"] >= metrics["latency_p50"]
        records = results.read_predictions(latest_run(tmp_path))
        assert {
            "raw",
            "latency",
            "input_tokens",
            "output_tokens",
            "cost",
            "cached",
            "retries",
        } <= set(records[0])
        assert records[0]["raw"] == "260.00" and records[0]["cached"] is False

        second = run_llm(tmp_path, server.base_url)
        assert second.returncode == 0, second.stderr
        assert len(server.chat_requests()) == 250  # nothing new reached the server
        assert f"gpt-4o-mini {reported_line('gpt-4o-mini')}" in second.stdout.splitlines()
        again = latest_metrics(tmp_path)
        assert (again["requests"], again["cache_hits"], again["cost"]) == (0, 250, 0.0)
        assert again["cost_fresh"] == pytest.approx(cost)  # cached replies keep their cost
        assert again["input_tokens"] == 250 * 100


def test_429s_with_retry_after_are_retried_and_the_concurrency_backs_off(tmp_path, prompts) -> None:
    attempts: Counter[str] = Counter()
    lock = threading.Lock()

    def first_attempt_rate_limited(body: dict, n: int) -> Reply:
        with lock:
            attempts[user_of(body)] += 1
            count = attempts[user_of(body)]
        if count == 1:
            return Reply(status=429, headers={"retry-after": "0.01"})
        return Reply(text="100")

    with FakeOpenAI(chat=first_attempt_rate_limited) as server:
        proc = run_llm(tmp_path, server.base_url, "data.size=40", "predictor.concurrency=16")
    assert proc.returncode == 0, proc.stderr
    metrics = latest_metrics(tmp_path)
    assert metrics["retries"] == 40 and metrics["failed"] == 0
    assert metrics["concurrency_backoffs"] >= 1 and metrics["concurrency_final"] < 16
    assert set(attempts.values()) == {2}


def test_500s_are_retried(tmp_path: Path) -> None:
    seen: Counter[str] = Counter()

    def flaky(body: dict, n: int) -> Reply:
        seen[user_of(body)] += 1
        return Reply(status=500) if seen[user_of(body)] == 1 else Reply(text="50")

    with FakeOpenAI(chat=flaky) as server:
        proc = run_llm(tmp_path, server.base_url, "data.size=20")
    assert proc.returncode == 0, proc.stderr
    assert latest_metrics(tmp_path)["retries"] == 20


def test_a_timeout_fails_the_run_in_one_line_and_the_rerun_repeats_only_that_item(
    tmp_path, prompts
) -> None:
    slow = next(p for p, i in prompts.items() if i == 3)
    state = {"slow": True}

    def one_slow(body: dict, n: int) -> Reply:
        if user_of(body) == slow and state["slow"]:
            return Reply(text="10", delay=3.0)
        return Reply(text="10")

    with FakeOpenAI(chat=one_slow) as server:
        proc = run_llm(
            tmp_path,
            server.base_url,
            "data.size=20",
            "predictor.timeout=0.5",
            "predictor.max_retries=1",
        )
        assert proc.returncode == 2 and "Traceback" not in proc.stderr
        (line,) = [x for x in proc.stderr.splitlines() if x.strip()]
        assert line.startswith(
            "pricebench: error: 1 of 20 requests failed (first: item 3, after 1 retry: "
        )
        assert "cached" in line and no_run(tmp_path)
        assert len(server.chat_requests()) == 21  # 19 answered + 2 attempts at item 3
        state["slow"] = False
        rerun = run_llm(tmp_path, server.base_url, "data.size=20", "predictor.timeout=0.5")
        assert rerun.returncode == 0, rerun.stderr
        assert [user_of(b) for b in server.chat_requests()[21:]] == [slow]


def test_connection_refused_trips_the_circuit_breaker_in_one_line(tmp_path: Path) -> None:
    port = closed_port()
    args = (
        "predictor=gpt-4o-mini", f"predictor.base_url=http://127.0.0.1:{port}/v1",
        f"cache.dir={tmp_path}/cache", "quiet=true",
    )  # fmt: skip
    proc = run_cli(*args, cwd=tmp_path, env={"OPENAI_API_KEY": KEY})
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    (line,) = [x for x in proc.stderr.splitlines() if x.strip()]
    assert line.startswith(
        f"pricebench: error: no answer from http://127.0.0.1:{port}/v1: the first 3 requests all "
        "failed to connect (APIConnectionError: Connection error.; 2 retries each)"
    )
    assert "predictor.base_url" in line
    # without the breaker every item is tried, and each failure is counted
    off = run_cli(*args, "data.size=5", "predictor.max_retries=0", "predictor.circuit_breaker=0",
                  cwd=tmp_path, env={"OPENAI_API_KEY": KEY})  # fmt: skip
    assert (
        off.returncode == 2 and "5 of 5 requests failed (first: item 0, not retried" in off.stderr
    )
    assert "Connection error" in off.stderr


def test_replies_without_a_price_are_counted_and_kept(tmp_path: Path, prompts) -> None:
    refusing = {p for p, i in prompts.items() if i in (1, 4)}

    def some_refuse(body: dict, n: int) -> Reply:
        return Reply(text="I cannot price that") if user_of(body) in refusing else Reply(text="99")

    with FakeOpenAI(chat=some_refuse) as server:
        ok = run_llm(tmp_path, server.base_url, "data.size=10")
        assert ok.returncode == 0, ok.stderr
        run = only_run(tmp_path / "r")
        assert read_json(run / "metrics.json")["unparseable"] == 2
        records = results.read_predictions(run)
        assert [r["guess"] for r in records if r.get("unparseable")] == [0.0, 0.0]
        assert records[1]["raw"] == "I cannot price that"
        strict = run_llm(tmp_path, server.base_url, "data.size=10", "predictor.on_unparseable=fail")
    assert strict.returncode == 2
    assert "2 of 10 replies hold no price (first: item 1: 'I cannot price that')" in strict.stderr


def test_garbage_bodies_are_failures_not_zeros(tmp_path: Path) -> None:
    garbage = FakeOpenAI(chat=lambda body, n: Reply(raw_body=b"<html>oops</html>"))
    with garbage as server:
        proc = run_llm(tmp_path, server.base_url, "data.size=3", "predictor.max_retries=0")
    assert proc.returncode == 2, proc.stderr
    assert "the first 3 replies were not chat completions (first: item 0: HTTP 200" in proc.stderr
    assert no_run(tmp_path)


def test_a_run_killed_part_way_resumes_without_repeating_an_answered_request(tmp_path) -> None:
    with FakeOpenAI(chat=lambda body, n: Reply(text="77"), latency=0.02) as server:
        env = {
            **os.environ,
            "PRICEBENCH_DATA": str(DATA_DIR),
            "OPENAI_API_KEY": KEY,
            "WANDB_DIR": str(tmp_path),
        }
        # 100 items (not the canonical 250) at one request per 0.02 s: killed after at least 30
        args = [
            *(sys.executable, "-m", "harness.cli", "predictor=gpt-4o-mini", "quiet=true"),
            *(f"predictor.base_url={server.base_url}", "predictor.concurrency=1", "data.size=100"),
            *(f"cache.dir={tmp_path}/cache", f"results.dir={tmp_path}/r", "tracker=none"),
            "chart=false",
        ]
        victim = subprocess.Popen(
            args, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 60
        while len(server.chat_requests()) < 30 and time.monotonic() < deadline:
            time.sleep(0.01)
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        first = [user_of(b) for b in server.chat_requests()]
        assert 30 <= len(first) < 100
        answered = set(first[:-1])  # with one request at a time, all but the last were answered
        rerun = subprocess.run(args, cwd=tmp_path, env=env, capture_output=True, text=True)
        assert rerun.returncode == 0, rerun.stderr
        second = [user_of(b) for b in server.chat_requests()[len(first) :]]
    assert not answered & set(second)
    assert len(second) == 100 - len(answered)
    assert latest_metrics(tmp_path)["cache_hits"] == len(answered)


def test_two_processes_share_one_cache(tmp_path: Path) -> None:
    with FakeOpenAI(chat=lambda body, n: Reply(text="120"), latency=0.005) as server:
        env = {**os.environ, "PRICEBENCH_DATA": str(DATA_DIR), "OPENAI_API_KEY": KEY}
        procs = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "harness.cli",
                    "predictor=gpt-4o-mini",
                    f"predictor.base_url={server.base_url}",
                    "quiet=true",
                    "tracker=none",
                    f"cache.dir={tmp_path}/cache",
                    f"results.dir={tmp_path}/r{i}",
                    "chart=false",
                ],
                cwd=tmp_path,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )  # fmt: skip
            for i in range(2)
        ]
        outs = [p.communicate(timeout=120) for p in procs]
        assert [p.returncode for p in procs] == [0, 0], outs
        summaries = [[x for x in o.splitlines() if x.startswith("gpt-4o-mini ")] for o, _ in outs]
        assert summaries[0] == summaries[1] and len(summaries[0]) == 1
        with sqlite3.connect(tmp_path / "cache" / "responses.sqlite3") as db:
            assert db.execute("select count(*) from responses").fetchone()[0] == 250
        made = len(server.chat_requests())
        assert 250 <= made <= 500
        third = run_llm(tmp_path, server.base_url)
        assert third.returncode == 0 and len(server.chat_requests()) == made


def test_a_fine_tuned_model_name_reaches_the_server_as_given(tmp_path, prompts) -> None:
    name = "ft:gpt-4o-mini-2024-07-18:acme:pricer:AbC123"
    replies = recorded_replies(REFERENCE_DIR / "gpt-4o-mini-fine-tuned.csv", prompts)
    with FakeOpenAI(chat=replies) as server:
        proc = run_llm(tmp_path, server.base_url, f"predictor.model={name}", predictor="fine_tuned")
        assert proc.returncode == 0, proc.stderr
        assert {(b["model"], b["max_tokens"]) for b in server.chat_requests()} == {(name, 7)}
    assert f"fine_tuned {reported_line('gpt-4o-mini-fine-tuned')}" in proc.stdout.splitlines()


def test_a_fine_tuned_model_by_job_id(tmp_path: Path) -> None:
    from openai import OpenAI

    with FakeOpenAI(chat=lambda body, n: Reply(text="55")) as server:
        client = OpenAI(base_url=server.base_url, api_key="x")
        training = client.files.create(file=("t.jsonl", b"{}\n"), purpose="fine-tune")
        job = client.fine_tuning.jobs.create(
            model="gpt-4o-mini-2024-07-18", training_file=training.id, suffix="pricer"
        )
        early = run_llm(
            tmp_path,
            server.base_url,
            f"predictor.job_id={job.id}",
            "data.size=3",
            predictor="fine_tuned",
        )
        assert early.returncode == 2 and f"fine-tuning job {job.id} is" in early.stderr
        while (job := client.fine_tuning.jobs.retrieve(job.id)).status != "succeeded":
            pass
        proc = run_llm(
            tmp_path,
            server.base_url,
            f"predictor.job_id={job.id}",
            "data.size=3",
            predictor="fine_tuned",
        )
        assert proc.returncode == 0, proc.stderr
        assert {b["model"] for b in server.chat_requests()} == {job.fine_tuned_model}
        missing = run_llm(
            tmp_path,
            server.base_url,
            "predictor.job_id=ftjob-nope",
            "data.size=3",
            predictor="fine_tuned",
        )
    assert missing.returncode == 2 and "no fine-tuning job ftjob-nope" in missing.stderr


def test_a_missing_key_is_one_line(tmp_path: Path) -> None:
    with FakeOpenAI() as server:
        proc = run_llm(tmp_path, server.base_url, "data.size=3", env={"OPENAI_API_KEY": ""})
        assert server.chat_requests() == []
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip() == (
        "pricebench: error: OPENAI_API_KEY is not set: export OPENAI_API_KEY=... (keys are read "
        "only from the environment), or name another variable with api_key_env"
    )


def test_a_local_endpoint_needs_no_key(tmp_path: Path) -> None:
    with FakeOpenAI(chat=lambda body, n: Reply(text="12")) as server:
        proc = run_llm(
            tmp_path, server.base_url, "data.size=3", predictor="ollama", env={"OPENAI_API_KEY": ""}
        )
        assert proc.returncode == 0, proc.stderr
        assert {b["model"] for b in server.chat_requests()} == {"llama3.2"}


def test_the_api_key_never_leaves_the_process(tmp_path: Path) -> None:
    with FakeOpenAI(chat=lambda body, n: Reply(text="12")) as server:
        proc = run_cli(
            "predictor=gpt-4o-mini", f"predictor.base_url={server.base_url}", "data.size=5",
            f"cache.dir={tmp_path}/cache", f"results.dir={tmp_path}/r",
            "+note=${oc.env:OPENAI_API_KEY}",
            cwd=tmp_path, env={"OPENAI_API_KEY": KEY}, tracker="wandb",
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        assert server.requests[-1]["headers"]["authorization"] == f"Bearer {KEY}"  # it was used
    assert KEY not in proc.stdout + proc.stderr
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.suffix == ".wandb" for p in written) and any(
        p.name == "config.yaml" for p in written
    )
    for path in written:
        assert KEY.encode() not in path.read_bytes(), f"the API key leaked into {path}"
