"""The fake OpenAI server, exercised through the real SDK over HTTP."""

from __future__ import annotations

import asyncio
import csv
import json
import subprocess
import sys
import time

import openai
import pytest
from openai import AsyncOpenAI, OpenAI

from tests.conftest import REFERENCE_DIR, ROOT
from tests.openai_server import FakeOpenAI, Reply, recorded_replies, script

MESSAGES = [{"role": "user", "content": "How much does this cost?"}]


def client(server: FakeOpenAI, **kwargs) -> OpenAI:
    return OpenAI(base_url=server.base_url, api_key="test-key", **kwargs)


def ask(c: OpenAI, content: str = "How much does this cost?", **kwargs):
    messages = [{"role": "user", "content": content}]
    return c.chat.completions.create(model="gpt-4o-mini", messages=messages, **kwargs)


def test_chat_completion_returns_text_and_usage() -> None:
    reply = Reply(text="42.50", prompt_tokens=120, completion_tokens=3)
    with FakeOpenAI(chat=lambda body, n: reply) as server, client(server) as c:
        raw = c.chat.completions.with_raw_response.create(
            model="gpt-4o-mini", messages=MESSAGES, max_tokens=5, seed=42
        )
        resp = raw.parse()
    assert resp.choices[0].message.content == "42.50"
    assert resp.choices[0].finish_reason == "stop"
    assert (resp.usage.prompt_tokens, resp.usage.completion_tokens) == (120, 3)
    assert resp.usage.total_tokens == 123
    assert (resp.id, resp.model, resp.system_fingerprint) == (
        "chatcmpl-0",
        "gpt-4o-mini",
        "fp_test",
    )
    assert raw.retries_taken == 0
    assert raw.headers["x-ratelimit-remaining-requests"] == "9999"
    assert server.chat_requests() == [
        {"model": "gpt-4o-mini", "messages": MESSAGES, "max_tokens": 5, "seed": 42}
    ]
    (request,) = server.requests
    assert (request["method"], request["path"]) == ("POST", "/v1/chat/completions")
    assert request["headers"]["authorization"] == "Bearer test-key"


def test_default_reply_and_request_count() -> None:
    seen = []

    def chat(body: dict, n: int) -> Reply:
        seen.append(n)
        return Reply(text=f"{n}")

    with FakeOpenAI() as server, client(server) as c:
        assert ask(c).choices[0].message.content == "100"
    with FakeOpenAI(chat=chat) as server, client(server) as c:
        assert [ask(c).choices[0].message.content for _ in range(3)] == ["0", "1", "2"]
    assert seen == [0, 1, 2]


def test_async_requests_are_served_concurrently() -> None:
    async def run(base_url: str) -> list[str]:
        async with AsyncOpenAI(base_url=base_url, api_key="test-key") as c:
            calls = [c.chat.completions.create(model="m", messages=MESSAGES) for _ in range(32)]
            return [r.choices[0].message.content for r in await asyncio.gather(*calls)]

    with FakeOpenAI(latency=0.1) as server:
        start = time.perf_counter()
        texts = asyncio.run(run(server.base_url))
        elapsed = time.perf_counter() - start
    assert texts == ["100"] * 32
    assert len(server.chat_requests()) == 32
    assert elapsed < 1.0, f"32 x 0.1 s took {elapsed:.2f} s: requests were serialised"


def test_rate_limit_is_retried_after_retry_after() -> None:
    chat = script(Reply(status=429, headers={"retry-after": "0.05"}), Reply(text="5"))
    with FakeOpenAI(chat=chat) as server, client(server) as c:
        raw = c.chat.completions.with_raw_response.create(model="m", messages=MESSAGES)
    assert raw.retries_taken == 1
    assert raw.parse().choices[0].message.content == "5"
    retry_counts = [r["headers"].get("x-stainless-retry-count") for r in server.requests]
    assert retry_counts == ["0", "1"]


def test_server_error_is_retried() -> None:
    chat = script(Reply(status=500, headers={"retry-after-ms": "10"}), Reply(text="7"))
    with FakeOpenAI(chat=chat) as server, client(server) as c:
        raw = c.chat.completions.with_raw_response.create(model="m", messages=MESSAGES)
    assert raw.retries_taken == 1
    assert raw.parse().choices[0].message.content == "7"


def test_errors_have_openai_shape() -> None:
    chat = script(Reply(status=400, text="bad model"), Reply(status=429), Reply(status=401))
    with FakeOpenAI(chat=chat) as server, client(server, max_retries=0) as c:
        with pytest.raises(openai.BadRequestError) as bad:
            ask(c)
        with pytest.raises(openai.RateLimitError) as limited:
            ask(c)
        with pytest.raises(openai.AuthenticationError):
            ask(c)
        with pytest.raises(openai.NotFoundError, match=r"Invalid URL \(GET /v1/models\)"):
            c.models.list()
    assert bad.value.body == {
        "message": "bad model",
        "type": "invalid_request_error",
        "param": None,
        "code": None,
    }
    assert bad.value.request_id == "req_1"
    assert (limited.value.type, limited.value.code) == ("requests", "rate_limit_exceeded")


def test_delay_beyond_timeout_raises_timeout_error() -> None:
    with FakeOpenAI(chat=script(Reply(text="1", delay=2.0))) as server:
        with client(server, max_retries=0, timeout=0.2) as c:
            start = time.perf_counter()
            with pytest.raises(openai.APITimeoutError):
                ask(c)
        assert time.perf_counter() - start < 1.5
        with client(server) as c:  # the server keeps serving after a client gave up
            assert ask(c).choices[0].message.content == "100"


def test_garbage_bodies() -> None:
    chat = script(
        Reply(raw_body=b"<html>upstream hiccup</html>"),  # 200, text/plain
        Reply(json_body={"unexpected": True}),  # 200, JSON that is no chat.completion
        Reply(status=502, raw_body=b"Bad Gateway"),
    )
    with FakeOpenAI(chat=chat) as server, client(server, max_retries=0) as c:
        # Non-JSON content types come back as the raw text, not as an error.
        assert ask(c) == "<html>upstream hiccup</html>"
        # JSON is parsed without validation: the missing fields are None.
        odd = ask(c)
        assert isinstance(odd, openai.types.chat.ChatCompletion)
        assert odd.choices is None and odd.usage is None
        assert odd.model_extra == {"unexpected": True}
        with pytest.raises(openai.InternalServerError) as exc:
            ask(c)
    assert exc.value.status_code == 502
    assert exc.value.body == "Bad Gateway"


def test_responder_exception_is_reported_not_retried() -> None:
    def broken(body: dict, n: int) -> Reply:
        raise KeyError("oops")

    server = FakeOpenAI(chat=broken)
    with server, client(server) as c, pytest.raises(openai.InternalServerError, match="oops"):
        ask(c)
    assert len(server.requests) == 1
    assert isinstance(server.errors[0], KeyError)


def test_streaming_reply() -> None:
    with FakeOpenAI(chat=script(Reply(text="19.99"))) as server, client(server) as c:
        stream = ask(c, stream=True, stream_options={"include_usage": True})
        chunks = list(stream)
    text = "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices)
    assert text == "19.99"
    assert chunks[-1].usage.completion_tokens == 2


def test_recorded_replies_replay_reference_guesses() -> None:
    path = REFERENCE_DIR / "gpt-4o-mini.csv"
    with path.open(newline="") as f:
        guesses = {int(row["index"]): float(row["guess"]) for row in csv.DictReader(f)}
    prompts = {"How much does a cordless drill cost?": 0, "Price of a 4K monitor?": 3}
    with FakeOpenAI(chat=recorded_replies(path, prompts)) as server, client(server) as c:
        for content, index in prompts.items():
            text = ask(c, content).choices[0].message.content
            assert float(text) == guesses[index]
            assert text == f"{guesses[index]:.2f}"
        with pytest.raises(openai.BadRequestError, match="unknown prompt"):
            ask(c, "Something never recorded")


def test_stop_drops_keep_alive_connections() -> None:
    server = FakeOpenAI().start()
    with client(server, max_retries=0, timeout=2) as c:
        ask(c)
        server.stop()
        with pytest.raises(openai.APIConnectionError):
            ask(c)


def test_runs_as_a_separate_process() -> None:
    command = [sys.executable, "-m", "tests.openai_server", "--text", "123.45"]
    with subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True) as proc:
        try:
            base_url = proc.stdout.readline().strip()
            assert base_url.startswith("http://127.0.0.1:") and base_url.endswith("/v1")
            with OpenAI(base_url=base_url, api_key="test-key") as c:
                assert ask(c).choices[0].message.content == "123.45"
        finally:
            proc.terminate()


EXAMPLE = {
    "messages": [{"role": "user", "content": "price?"}, {"role": "assistant", "content": "9"}]
}
TRAIN = json.dumps(EXAMPLE).encode() + b"\n"
VALID = json.dumps(EXAMPLE).encode() + b"\r\n\xe2\x82\xac"  # CRLF and non-ASCII bytes


def upload_and_create(c: OpenAI, **kwargs):
    train = c.files.create(file=("train.jsonl", TRAIN), purpose="fine-tune")
    valid = c.files.create(file=("valid.jsonl", VALID), purpose="fine-tune")
    return (
        train,
        valid,
        c.fine_tuning.jobs.create(
            model="gpt-4o-mini-2024-07-18",
            training_file=train.id,
            validation_file=valid.id,
            seed=42,
            suffix="pricer",
            method={"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 1}}},
            integrations=[{"type": "wandb", "wandb": {"project": "pricebench"}}],
            **kwargs,
        ),
    )


def poll(c: OpenAI, job_id: str) -> list:
    jobs = []
    for _ in range(10):
        jobs.append(c.fine_tuning.jobs.retrieve(job_id))
        if jobs[-1].status in ("succeeded", "failed", "cancelled"):
            return jobs
    raise AssertionError(f"job never finished: {[j.status for j in jobs]}")


def test_fine_tuning_flow() -> None:
    with FakeOpenAI() as server, client(server) as c:
        train, valid, job = upload_and_create(c)
        jobs = poll(c, job.id)
        events = list(c.fine_tuning.jobs.list_events(job.id))
        listed = list(c.fine_tuning.jobs.list())
        checkpoints = list(c.fine_tuning.jobs.checkpoints.list(job.id))
        final = jobs[-1]
        result = c.files.retrieve(final.result_files[0])
        content = c.files.content(final.result_files[0]).text
        uploaded = c.files.content(valid.id).content

    assert (train.object, train.purpose, train.status) == ("file", "fine-tune", "processed")
    assert (train.filename, train.bytes) == ("train.jsonl", len(TRAIN))
    assert server.files[train.id] == {**server.files[train.id], "content": TRAIN}
    assert uploaded == VALID  # multipart bytes survive exactly, CRLF included
    assert (job.status, job.fine_tuned_model, job.organization_id) == (
        "validating_files",
        None,
        "org-test",
    )
    assert job.method.supervised.hyperparameters.n_epochs == 1
    assert job.integrations[0].wandb.project == "pricebench"
    assert server.job_requests[0]["suffix"] == "pricer"
    assert [j.status for j in jobs] == ["queued", "running", "succeeded"]
    assert final.fine_tuned_model.startswith("ft:gpt-4o-mini-2024-07-18:org-test:pricer:")
    assert final.trained_tokens > 0 and final.finished_at is not None and final.error is None
    assert [j.id for j in listed] == [job.id]
    assert checkpoints == []

    times = [e.created_at for e in events]
    assert times == sorted(times, reverse=True)
    assert events[0].message == "The job has successfully completed"
    assert events[-1].message == f"Created fine-tuning job: {job.id}"
    metrics = [e for e in events if e.type == "metrics"]
    assert [e.data["step"] for e in metrics] == [5, 4, 3, 2, 1]
    assert {"train_loss", "train_mean_token_accuracy", "valid_loss"} <= metrics[0].data.keys()

    assert result.purpose == "fine-tune-results"
    rows = list(csv.DictReader(content.splitlines()))
    assert list(rows[0]) == [
        "step",
        "train_loss",
        "train_accuracy",
        "valid_loss",
        "valid_mean_token_accuracy",
    ]
    assert len(rows) == 5 and float(rows[-1]["train_loss"]) < float(rows[0]["train_loss"])


def test_fine_tuning_failure_and_cancel() -> None:
    with FakeOpenAI(fail_jobs=True) as server, client(server) as c:
        _, _, job = upload_and_create(c)
        failed = poll(c, job.id)[-1]
        events = list(c.fine_tuning.jobs.list_events(job.id))
        with pytest.raises(openai.BadRequestError):
            c.fine_tuning.jobs.cancel(job.id)
    assert failed.status == "failed" and failed.fine_tuned_model is None
    assert (failed.error.code, failed.error.param) == ("invalid_training_file", "training_file")
    assert events[0].level == "error"

    with FakeOpenAI() as server, client(server) as c:
        _, _, job = upload_and_create(c)
        assert c.fine_tuning.jobs.cancel(job.id).status == "cancelled"
        assert c.fine_tuning.jobs.retrieve(job.id).status == "cancelled"
        with pytest.raises(openai.BadRequestError, match="training_file"):
            c.fine_tuning.jobs.create(model="gpt-4o-mini", training_file="file-missing")
        with pytest.raises(openai.NotFoundError, match="No such object: ftjob-404"):
            c.fine_tuning.jobs.retrieve("ftjob-404")
        with pytest.raises(openai.NotFoundError):
            c.files.content("file-404")


def test_list_endpoints_paginate() -> None:
    with FakeOpenAI() as server, client(server) as c:
        _, _, job = upload_and_create(c)
        for _ in range(3):
            c.fine_tuning.jobs.retrieve(job.id)
        everything = [e.id for e in c.fine_tuning.jobs.list_events(job.id)]
        paged = [e.id for e in c.fine_tuning.jobs.list_events(job.id, limit=2)]
        first = c.fine_tuning.jobs.list_events(job.id, limit=2)
    assert paged == everything and len(everything) > 2
    assert first.has_more is True and len(first.data) == 2
    assert json.loads(first.to_json())["object"] == "list"
