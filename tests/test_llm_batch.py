"""`predictor.batch=true` against a loopback Batch API: one batch and no direct request, exact
numbers at the batch price, no second batch on a rerun, the same batch resumed after a kill, and
batches that end badly said in one line."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import DATA_DIR, REFERENCE_DIR, reported_line, run_cli
from tests.fake_reasoning import reasoning_model
from tests.llm_helpers import KEY, course_prompts, error_lines, latest_metrics, no_run, run_llm
from tests.openai_server import FakeOpenAI, Reply, recorded_replies

pytestmark = pytest.mark.slow
BATCH = ("predictor.batch=true", "predictor.batch_poll_seconds=0.02")
COURSE_LINE = f"gpt-4o-mini {reported_line('gpt-4o-mini')}"


@pytest.fixture(scope="module")
def prompts() -> dict[str, int]:
    return course_prompts()


def test_one_batch_no_direct_request_exact_numbers_and_a_rerun_makes_no_batch(
    tmp_path: Path, prompts: dict[str, int]
) -> None:
    with FakeOpenAI(chat=recorded_replies(REFERENCE_DIR / "gpt-4o-mini.csv", prompts)) as server:
        proc = run_llm(tmp_path, server.base_url, *BATCH)
        assert proc.returncode == 0, proc.stderr
        assert COURSE_LINE in proc.stdout.splitlines()
        assert server.chat_requests() == [] and len(server.batch_chat_requests()) == 250
        assert len(server.batches) == 1
        (upload,) = [f for f in server.files.values() if f["purpose"] == "batch"]
        assert upload["content"].count(b"\n") == 250
        metrics = latest_metrics(tmp_path)
        assert (metrics["batches"], metrics["requests"], metrics["cache_hits"]) == (1, 250, 0)
        standard = (250 * 100 * 0.15 + 250 * 2 * 0.60) / 1e6
        assert metrics["cost"] == pytest.approx(standard * 0.5)
        assert "at the batch price" in proc.stdout

        again = run_llm(tmp_path, server.base_url, *BATCH)
        assert again.returncode == 0, again.stderr
        assert COURSE_LINE in again.stdout.splitlines()
        assert len(server.batches) == 1 and server.chat_requests() == []
        assert (latest_metrics(tmp_path)["batches"], latest_metrics(tmp_path)["cache_hits"]) == (
            0,
            250,
        )


def test_a_run_killed_while_its_batch_runs_resumes_the_same_batch(tmp_path, prompts) -> None:
    served = recorded_replies(REFERENCE_DIR / "gpt-4o-mini.csv", prompts)
    with FakeOpenAI(chat=served, batch_polls=10**6) as server:  # stays in validation
        env = {**os.environ, "PRICEBENCH_DATA": str(DATA_DIR), "OPENAI_API_KEY": KEY}
        args = [
            sys.executable, "-m", "harness.cli", "predictor=gpt-4o-mini", "quiet=true",
            "tracker=none", f"predictor.base_url={server.base_url}", *BATCH,
            f"cache.dir={tmp_path}/cache", f"results.dir={tmp_path}/r", "chart=false",
        ]  # fmt: skip
        victim = subprocess.Popen(args, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)  # fmt: skip
        deadline = time.monotonic() + 60
        polled = [r for r in server.requests if r["path"].startswith("/v1/batches/")]
        while len(polled) < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
            polled = [r for r in server.requests if r["path"].startswith("/v1/batches/")]
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        (batch_id,) = server.batches
        server._batch_api.polls = 1  # let it finish now
        rerun = subprocess.run(args, cwd=tmp_path, env=env, capture_output=True, text=True)
        assert rerun.returncode == 0, rerun.stderr
        assert f"batch {batch_id}: resuming the batch submitted earlier" in rerun.stderr
        assert list(server.batches) == [batch_id] and server.chat_requests() == []
    assert COURSE_LINE in rerun.stdout.splitlines()
    assert latest_metrics(tmp_path)["batch_id"] == batch_id


def test_an_expired_batch_keeps_what_it_answered_and_the_rerun_sends_the_rest(
    tmp_path, prompts
) -> None:
    served = recorded_replies(REFERENCE_DIR / "gpt-4o-mini.csv", prompts)
    with FakeOpenAI(chat=served, batch_outcome="expired") as server:
        proc = run_llm(tmp_path, server.base_url, *BATCH)
        assert proc.returncode == 2 and "Traceback" not in proc.stderr
        (line,) = error_lines(proc.stderr)
        assert "expired before it completed (125 of 250 requests answered)" in line
        assert "its 125 answers are cached, so a rerun sends only the other 125" in line
        server._batch_api.outcome = None
        rerun = run_llm(tmp_path, server.base_url, *BATCH)
        assert rerun.returncode == 0, rerun.stderr
        assert len(server.batches) == 2 and len(server.batch_chat_requests()) == 250
    assert COURSE_LINE in rerun.stdout.splitlines()
    assert latest_metrics(tmp_path)["cache_hits"] == 125


def test_a_failed_batch_is_one_line(tmp_path: Path) -> None:
    with FakeOpenAI(chat=lambda body, n: Reply(text="10"), batch_outcome="failed") as server:
        proc = run_llm(tmp_path, server.base_url, *BATCH, "data.size=5")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    (line,) = error_lines(proc.stderr)
    assert line.startswith("pricebench: error: batch batch_") and " failed (" in line
    assert no_run(tmp_path)


def test_a_line_that_fails_inside_a_batch_is_reported_like_a_failed_request(
    tmp_path, prompts
) -> None:
    broken = next(p for p, i in prompts.items() if i == 3)

    def one_broken(body: dict, n: int) -> Reply:
        user = next(m["content"] for m in body["messages"] if m["role"] == "user")
        return Reply(status=500) if user == broken else Reply(text="10")

    with FakeOpenAI(chat=one_broken) as server:
        proc = run_llm(tmp_path, server.base_url, *BATCH, "data.size=10")
        assert server.chat_requests() == []
    assert proc.returncode == 2
    (line,) = error_lines(proc.stderr)
    assert line.startswith("pricebench: error: 1 of 10 requests failed (first: item 3, not ")
    assert "not retried: in batch batch_" in line


def test_reasoning_models_go_through_batches_with_their_own_parameters(tmp_path, prompts) -> None:
    served = reasoning_model(recorded_replies(REFERENCE_DIR / "gpt-4o-mini.csv", prompts))
    with FakeOpenAI(chat=served) as server:
        proc = run_llm(tmp_path, server.base_url, *BATCH, "predictor.model=gpt-5-mini")
        assert proc.returncode == 0, proc.stderr
        bodies = server.batch_chat_requests()
    assert COURSE_LINE in proc.stdout.splitlines()
    assert {b.get("reasoning_effort") for b in bodies} == {"minimal"} and len(bodies) == 250


def test_a_provider_without_a_batch_api_says_so(tmp_path: Path) -> None:
    with FakeOpenAI() as server:
        proc = run_cli(
            "predictor=anthropic", f"predictor.base_url={server.base_url}", *BATCH,
            f"cache.dir={tmp_path}/cache", cwd=tmp_path, env={"ANTHROPIC_API_KEY": KEY},
        )  # fmt: skip
        assert server.requests == []
    assert proc.returncode == 2
    (line,) = error_lines(proc.stderr)
    assert "has no OpenAI-compatible Batch API" in line and "predictor.batch=false" in line
