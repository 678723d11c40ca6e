"""Today's models end to end: GPT-5-family requests, refused parameters adapted, budgets that run
out, the cost guard, and replies without a price said on the console. The `pricebench` CLI talks
through the real openai SDK to loopback servers that behave like the providers."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness import results
from tests.conftest import REFERENCE_DIR, reported_line
from tests.fake_reasoning import REASONING_TOKENS, reasoning_model
from tests.llm_helpers import (
    course_prompts,
    error_lines,
    latest_metrics,
    latest_run,
    no_run,
    run_llm,
)
from tests.openai_server import FakeOpenAI, Reply, recorded_replies

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def prompts() -> dict[str, int]:
    return course_prompts()


def test_gpt5_mini_through_the_course_config_scores_exactly_what_it_serves(
    tmp_path: Path, prompts: dict[str, int]
) -> None:
    served = reasoning_model(recorded_replies(REFERENCE_DIR / "gpt-4o-mini.csv", prompts))
    with FakeOpenAI(chat=served) as server:
        proc = run_llm(tmp_path, server.base_url, "predictor.model=gpt-5-mini")
        assert proc.returncode == 0, proc.stderr
        bodies = server.chat_requests()
    assert f"gpt-4o-mini {reported_line('gpt-4o-mini')}" in proc.stdout.splitlines()
    assert len(bodies) == 250  # no request refused, none repeated
    assert all("max_tokens" not in b and "temperature" not in b for b in bodies)
    # the lowest effort GPT-5 takes, and a budget with room for its reasoning and the answer
    assert {(b["reasoning_effort"], b["max_completion_tokens"]) for b in bodies} == {
        ("minimal", 64)
    }
    metrics = latest_metrics(tmp_path)
    assert (metrics["failed"], metrics["refused_params"], metrics["cut_off"]) == (0, 0, 0)
    assert metrics["reasoning_tokens"] == 250 * REASONING_TOKENS["minimal"]
    assert metrics["output_tokens"] == 250 * (REASONING_TOKENS["minimal"] + 2)


def test_a_model_the_table_does_not_know_is_adapted_once_and_remembered(
    tmp_path: Path, prompts: dict[str, int]
) -> None:
    served = reasoning_model(recorded_replies(REFERENCE_DIR / "gpt-4o-mini.csv", prompts))
    with FakeOpenAI(chat=served) as server:
        proc = run_llm(
            tmp_path, server.base_url, "predictor.model=my-reasoning-deployment", "data.size=20",
            "predictor.concurrency=1", "predictor.temperature=0.2", "predictor.max_tokens=400",
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        statuses = [r["status"] for r in server.requests]
    # one 400 for max_tokens, one for the temperature, then 20 answers
    assert statuses == [400, 400] + [200] * 20
    metrics = latest_metrics(tmp_path)
    assert (metrics["failed"], metrics["refused_params"], metrics["requests"]) == (0, 2, 20)
    assert metrics["adapted"] == ["max_tokens→max_completion_tokens", "temperature omitted"]
    assert "refused 2 request(s) for their parameters" in proc.stdout
    records = results.read_predictions(latest_run(tmp_path))
    reference = {i: g for i, g in _reference_guesses().items() if i < 20}
    assert {r["index"]: r["guess"] for r in records} == reference


def _reference_guesses() -> dict[int, float]:
    import csv

    with open(REFERENCE_DIR / "gpt-4o-mini.csv", newline="") as f:
        return {int(row["index"]): float(row["guess"]) for row in csv.DictReader(f)}


def test_a_budget_the_reasoning_uses_up_stops_the_run_naming_both_settings(
    tmp_path: Path,
) -> None:
    served = reasoning_model(lambda body, n: Reply(text="100"))
    with FakeOpenAI(chat=served) as server:
        proc = run_llm(
            tmp_path, server.base_url, "predictor.model=gpt-5-mini",
            "predictor.reasoning_effort=high", "predictor.max_tokens=8",
        )  # fmt: skip
        sent = len(server.chat_requests())
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    (line,) = error_lines(proc.stderr)
    assert "the first 3 replies were all cut off by the token budget" in line
    assert (
        "predictor.max_tokens (now 8)" in line and "predictor.reasoning_effort (now high)" in line
    )
    assert no_run(tmp_path)  # nothing scored as $0 guesses
    assert sent < 250  # stopped early, not after paying for every item


def test_replies_cut_off_now_and_then_are_said_under_zero_and_stop_the_run_under_fail(
    tmp_path: Path, prompts: dict[str, int]
) -> None:
    cut = {p for p, i in prompts.items() if i in (2, 5)}

    def some_cut(body: dict, n: int) -> Reply:
        user = next(m["content"] for m in body["messages"] if m["role"] == "user")
        if user in cut:
            return Reply(text="", finish_reason="length", completion_tokens=5)
        return Reply(text="42")

    with FakeOpenAI(chat=some_cut) as server:
        zero = run_llm(tmp_path, server.base_url, "data.size=10")
        fail = run_llm(tmp_path, server.base_url, "data.size=10", "predictor.on_unparseable=fail")
    assert zero.returncode == 0, zero.stderr
    lines = zero.stdout.splitlines()
    summary = next(i for i, x in enumerate(lines) if x.startswith("gpt-4o-mini Error="))
    notes = lines[:summary]
    assert "note: 2 of 10 replies held no price and were scored as $0 (first: item 2: '')" in notes
    assert any("2 replies were cut off by the token budget" in n for n in notes)
    assert any("predictor.max_tokens" in n and "predictor.reasoning_effort" in n for n in notes)
    assert fail.returncode == 2
    (line,) = error_lines(fail.stderr)
    assert "2 of 10 replies hold no price" in line and "predictor.max_tokens" in line


def test_a_run_without_a_single_price_says_so_above_its_summary_line(tmp_path: Path) -> None:
    with FakeOpenAI(chat=lambda body, n: Reply(text="I cannot tell")) as server:
        proc = run_llm(tmp_path, server.base_url, "data.size=10")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    summary = next(i for i, x in enumerate(lines) if x.startswith("gpt-4o-mini Error="))
    assert lines[summary - 1] == (
        "note: 10 of 10 replies held no price and were scored as $0 (first: item 0: "
        "'I cannot tell')"
    )
    assert latest_metrics(tmp_path)["notes"][-1].startswith("10 of 10 replies held no price")


def test_the_cost_guard_stops_before_any_request_and_cached_requests_cost_nothing(
    tmp_path: Path,
) -> None:
    with FakeOpenAI(chat=lambda body, n: Reply(text="99")) as server:
        stopped = run_llm(
            tmp_path, server.base_url, "predictor.max_cost=0.0001", predictor="gpt-4o"
        )
        assert server.requests == []
        assert stopped.returncode == 2 and "Traceback" not in stopped.stderr
        (line,) = error_lines(stopped.stderr)
        assert "this run would cost up to $" in line and "250 requests not in the cache" in line
        assert "over predictor.max_cost=$0.0001" in line and "predictor.max_cost=null" in line

        paid = run_llm(tmp_path, server.base_url, "data.size=10", predictor="gpt-4o")
        assert paid.returncode == 0, paid.stderr
        (note,) = [x for x in paid.stdout.splitlines() if x.startswith("note: cost $")]
        assert "for 10 request(s), 0 from the cache (estimated up to $" in note
        estimate = latest_metrics(tmp_path)["cost_estimate"]
        assert latest_metrics(tmp_path)["cost"] <= estimate
        # every request is cached now: the estimate is $0, under any limit
        again = run_llm(tmp_path, server.base_url, "data.size=10", "predictor.max_cost=0.0001",
                        predictor="gpt-4o")  # fmt: skip
        assert again.returncode == 0, again.stderr
        assert len(server.chat_requests()) == 10
    assert latest_metrics(tmp_path)["cost_estimate"] == 0
