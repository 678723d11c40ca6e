"""No run held hostage: an endpoint that never answers trips the circuit breaker, sustained 429s
are reported while they last and end the run after a bounded wait, an exhausted quota stops at
once, and retries are printed as they happen unless the run is quiet."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.llm_helpers import error_lines, no_run, run_llm
from tests.openai_server import FakeOpenAI, Reply, SilentServer, error_body

pytestmark = pytest.mark.slow


def test_an_endpoint_that_never_answers_trips_the_breaker_after_one_round(tmp_path) -> None:
    with SilentServer() as silent:
        url = silent.base_url
        proc = run_llm(tmp_path, url, "quiet=true", "predictor.timeout=0.5")
        connections = silent.connections
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    (line,) = error_lines(proc.stderr)
    assert line.startswith(
        f"pricebench: error: no answer from {url}: the first 3 requests all timed "
        "out (0.5 s each, 2 retries); check that the server is up, or raise predictor.timeout"
    )
    # about one round of the 16 requests in flight, each tried 3 times (a few more items start
    # as the first ones fail); not 250 items x 3 tries
    assert connections <= 16 * 3 + 16
    assert no_run(tmp_path)


def test_sustained_429s_are_reported_even_when_quiet_and_end_after_the_bounded_wait(
    tmp_path,
) -> None:
    limited = Reply(status=429, headers={"retry-after": "0.2"})
    with FakeOpenAI(chat=lambda body, n: limited) as server:
        url = server.base_url
        proc = run_llm(tmp_path, url, "quiet=true", "predictor.rate_limit_wait=2")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    lines = proc.stderr.splitlines()
    assert any(
        x.startswith(f"pricebench: rate limited by {url} (429) for 0 s, concurrency now")
        for x in lines
    )
    (line,) = error_lines(proc.stderr)
    assert f"rate limited by {url} for 2 s without an answer" in line
    assert "predictor.rate_limit_wait (now 2 s)" in line and "predictor.concurrency" in line


def test_a_retry_after_longer_than_the_wait_stops_at_once(tmp_path: Path) -> None:
    limited = Reply(status=429, headers={"retry-after": "3600"})
    with FakeOpenAI(chat=lambda body, n: limited) as server:
        proc = run_llm(tmp_path, server.base_url, "quiet=true", "data.size=3")
        assert len(server.chat_requests()) == 3
    (line,) = error_lines(proc.stderr)
    assert "the server asks to wait 3600 s more" in line


def test_an_exhausted_quota_stops_the_run_at_once(tmp_path: Path) -> None:
    body = error_body(
        "You exceeded your current quota, please check your plan and billing details.",
        429,
        code="insufficient_quota",
    )
    with FakeOpenAI(chat=lambda b, n: Reply(status=429, json_body=body)) as server:
        proc = run_llm(tmp_path, server.base_url, "quiet=true", "predictor.concurrency=2")
        assert len(server.chat_requests()) <= 2
    (line,) = error_lines(proc.stderr)
    assert "the account is out of quota" in line and "insufficient_quota" not in line.split(";")[1]


def test_retries_are_printed_as_they_happen_unless_quiet(tmp_path: Path) -> None:
    seen: set[int] = set()

    def first_attempt_fails(body: dict, n: int) -> Reply:
        user = str(body["messages"])
        if hash(user) in seen:
            return Reply(text="10")
        seen.add(hash(user))
        return Reply(status=503)

    with FakeOpenAI(chat=first_attempt_fails) as server:
        loud = run_llm(
            tmp_path, server.base_url, "data.size=3", "cache.enabled=false", "quiet=false"
        )
        seen.clear()
        quiet = run_llm(tmp_path, server.base_url, "data.size=3", "cache.enabled=false",
                        "quiet=true")  # fmt: skip
    assert loud.returncode == 0 and quiet.returncode == 0, loud.stderr + quiet.stderr
    retries = [x for x in loud.stderr.splitlines() if "retry 1/2 in" in x]
    assert len(retries) == 3 and all("InternalServerError" in x for x in retries)
    assert "retry" not in quiet.stderr
