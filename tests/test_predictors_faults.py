"""Faults an LLM run meets, each said as what happened (issue 12, rows 8, 10 and 13): an
endpoint that answers something other than a chat completion, a response-cache row that cannot
be read, and a reply read the course's way or leniently."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from harness import results
from tests.llm_helpers import error_lines, latest_metrics, latest_run, no_run, run_llm
from tests.openai_server import FakeOpenAI, Reply

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(
    ("reply", "why"),
    [
        (
            Reply(raw_body=b"{not json", headers={"content-type": "application/json"}),
            "HTTP 200 (application/json), not JSON: '{not json'",
        ),
        (Reply(raw_body=b"<html>hello</html>"), "HTTP 200 (text/plain; charset=utf-8), not JSON"),
        (Reply(json_body={"hello": 1}), "HTTP 200 (application/json), JSON that is not a chat"),
    ],
)
def test_a_reply_that_is_not_a_chat_completion_is_said_so_and_stops_early(
    tmp_path: Path, reply: Reply, why: str
) -> None:
    with FakeOpenAI(chat=lambda body, n: reply) as server:
        url = server.base_url
        proc = run_llm(tmp_path, url, "data.size=40", "predictor.concurrency=2")
        sent = len(server.chat_requests())
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    (line,) = [x for x in proc.stderr.splitlines() if x.strip()]
    assert line.startswith(
        "pricebench: error: the first 3 replies were not chat completions (first: item 0: " + why
    ), line
    assert line.endswith(
        f"check predictor.base_url ({url}): it must be an OpenAI-compatible endpoint, which "
        "most end in /v1"
    ), line
    assert "retries" not in line and "retry" not in line  # none were made
    assert sent <= 3 + 2  # stopped after the first 3 (2 more may be in flight), not 40
    assert no_run(tmp_path)


def test_fewer_unreadable_replies_than_the_early_stop_are_counted_at_the_end(tmp_path) -> None:
    def one_bad(body: dict, n: int) -> Reply:
        return Reply(raw_body=b"oops") if n == 0 else Reply(text="10")

    with FakeOpenAI(chat=one_bad) as server:
        proc = run_llm(tmp_path, server.base_url, "data.size=5", "predictor.concurrency=1")
    (line,) = error_lines(proc.stderr)
    assert line.startswith(
        "pricebench: error: 1 of 5 requests were answered with something that is not a chat "
        "completion (first: item 0: HTTP 200 (text/plain; charset=utf-8), not JSON: 'oops'); "
    ), line
    assert "retr" not in line


def test_a_failure_after_retries_says_how_many_and_one_without_says_none(tmp_path) -> None:
    with FakeOpenAI(chat=lambda body, n: Reply(status=503)) as server:
        proc = run_llm(tmp_path, server.base_url, "data.size=2", "predictor.max_retries=1")
    (line,) = error_lines(proc.stderr)
    assert line.startswith(
        "pricebench: error: 2 of 2 requests failed (first: item 0, after 1 retry:"
    )
    with FakeOpenAI(chat=lambda body, n: Reply(status=422)) as server:
        proc = run_llm(tmp_path, server.base_url, "data.size=2")
    (line,) = error_lines(proc.stderr)
    assert line.startswith(
        "pricebench: error: 2 of 2 requests failed (first: item 0, not retried: "
        "UnprocessableEntityError"
    ), line


def _spoil_one_row(cache_dir: Path, value: str) -> None:
    with sqlite3.connect(cache_dir / "responses.sqlite3") as db:
        (key,) = db.execute("SELECT key FROM responses ORDER BY key LIMIT 1").fetchone()
        db.execute("UPDATE responses SET value = ? WHERE key = ?", (value, key))


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("{not json", "not JSON"),
        ('["a list"]', "not a JSON object"),
        ('{"text": "5"}', "lacks input_tokens, output_tokens, cost"),
        ('{"text": 5, "input_tokens": 1, "output_tokens": 1, "cost": 0}', "text is not text"),
        ('{"text": "5", "input_tokens": "x", "output_tokens": 1, "cost": 0}', "input_tokens"),
    ],
)
def test_an_unreadable_cache_row_is_asked_again_with_one_warning(
    tmp_path: Path, value: str, why: str
) -> None:
    with FakeOpenAI(chat=lambda body, n: Reply(text="100")) as server:
        first = run_llm(tmp_path, server.base_url, "data.size=3")
        assert first.returncode == 0, first.stderr
        _spoil_one_row(tmp_path / "cache", value)
        again = run_llm(tmp_path, server.base_url, "data.size=3")
        assert again.returncode == 0 and "Traceback" not in again.stderr, again.stderr
        assert len(server.chat_requests()) == 3 + 1  # only the spoilt row asked again
        warnings = [x for x in again.stderr.splitlines() if x.strip()]
        cache = tmp_path / "cache" / "responses.sqlite3"
        assert len(warnings) == 1, again.stderr
        assert warnings[0].startswith(
            f"pricebench: warning: 1 stored reply in the response cache {cache} cannot be read "
            f"(first: {why}"
        ), warnings[0]
        assert warnings[0].endswith("its request is sent again and the reply stored anew")
        assert latest_metrics(tmp_path)["cache_hits"] == 2
        third = run_llm(tmp_path, server.base_url, "data.size=3")  # the row was mended
        assert third.returncode == 0 and not third.stderr.strip(), third.stderr
        assert len(server.chat_requests()) == 4


def test_a_reply_is_read_the_courses_way_by_default_and_leniently_on_request(tmp_path) -> None:
    replies = ["-5", "1.2k", "-5.5"]
    with FakeOpenAI(chat=lambda body, n: Reply(text=replies[n])) as server:
        course = run_llm(tmp_path, server.base_url, "data.size=3", "predictor.concurrency=1")
        assert course.returncode == 0, course.stderr
        guesses = [r["guess"] for r in results.read_predictions(latest_run(tmp_path))]
        assert [r["raw"] for r in results.read_predictions(latest_run(tmp_path))] == replies
        # the course's get_price: 5, 1.2, -5.5 (a negative guess is scored as $0)
        assert guesses == [5.0, 1.2, 0.0]
        lenient = run_llm(
            tmp_path, server.base_url, "data.size=3", "predictor.concurrency=1",
            "predictor.parse=lenient",
        )  # fmt: skip
        assert lenient.returncode == 0, lenient.stderr
        assert len(server.chat_requests()) == 3  # the same replies, from the cache
        guesses = [r["guess"] for r in results.read_predictions(latest_run(tmp_path))]
        assert guesses == [0.0, 1200.0, 0.0]
