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
from tests.fake_reasoning import REASONING_TOKENS
from tests.openai_server import (
    FakeOpenAI,
    Reply,
    SilentServer,
    closed_port,
    reasoning_model,
    recorded_replies,
    script,
    user_content,
)

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


# ----- API keys -----

KEY = "sk-" + "test-0123456789abcdef"  # fake, built so no scanner flags it


def test_api_key_is_checked_like_openai() -> None:
    with FakeOpenAI(api_key=KEY) as server:
        with OpenAI(base_url=server.base_url, api_key="sk-" + "wrong-key-5678") as c:
            with pytest.raises(openai.AuthenticationError) as wrong:
                ask(c)
            with pytest.raises(openai.AuthenticationError):
                c.files.list()  # every endpoint, not only chat
            with pytest.raises(openai.AuthenticationError) as missing:
                ask(c, extra_headers={"Authorization": openai.Omit()})
        with OpenAI(base_url=server.base_url, api_key=KEY) as c:
            assert ask(c).choices[0].message.content == "100"
    assert wrong.value.body == {
        "message": "Incorrect API key provided: sk-**********5678. You can find your API key at "
        "https://platform.openai.com/account/api-keys.",
        "type": "invalid_request_error",
        "param": None,
        "code": "invalid_api_key",
    }
    assert missing.value.body["message"].startswith("You didn't provide an API key. ")
    assert missing.value.code is None
    assert [r["status"] for r in server.requests] == [401, 401, 401, 200]  # 401: no retries
    assert len(server.chat_requests()) == 1  # refused requests never reach the responder


# ----- GPT-5-family reasoning models -----


def bad_request(c: OpenAI, **kwargs) -> dict:
    with pytest.raises(openai.BadRequestError) as exc:
        ask(c, **kwargs)
    assert (exc.value.code, exc.value.param) == (exc.value.body["code"], exc.value.body["param"])
    return exc.value.body


def test_gpt5_refuses_parameters_like_openai() -> None:
    chat = reasoning_model(script(Reply(text="42")))
    with FakeOpenAI(chat=chat) as server, client(server) as c:
        too_old = bad_request(c, max_tokens=5)
        hot = bad_request(c, temperature=0.2, max_completion_tokens=500)
        effort = bad_request(c, reasoning_effort="none")
        assert ask(c, temperature=1, reasoning_effort="minimal").choices[0].message.content == "42"
    assert too_old == {
        "message": "Unsupported parameter: 'max_tokens' is not supported with this model. "
        "Use 'max_completion_tokens' instead.",
        "type": "invalid_request_error",
        "param": "max_tokens",
        "code": "unsupported_parameter",
    }
    assert hot == {
        "message": "Unsupported value: 'temperature' does not support 0.2 with this model. "
        "Only the default (1) value is supported.",
        "type": "invalid_request_error",
        "param": "temperature",
        "code": "unsupported_value",
    }
    assert effort["message"] == (
        "Unsupported value: 'reasoning_effort' does not support 'none' with this model. "
        "Supported values are: 'minimal', 'low', 'medium', and 'high'."
    )
    assert (effort["param"], effort["code"]) == ("reasoning_effort", "unsupported_value")
    refused = [r for r in server.requests if r["status"] == 400]
    assert len(refused) == 3 and len(server.chat_requests()) == 4

    with (
        FakeOpenAI(chat=reasoning_model(script(), family="gpt-5.1")) as server,
        client(server) as c,
    ):
        effort = bad_request(c, reasoning_effort="minimal")
        assert ask(c, reasoning_effort="none").choices[0].message.content == "100"
    assert effort["message"].endswith("Supported values are: 'none', 'low', 'medium', and 'high'.")
    with pytest.raises(ValueError, match="unknown family"):
        reasoning_model(script(), family="gpt-4o")


def test_reasoning_tokens_come_out_of_the_budget() -> None:
    chat = reasoning_model(lambda body, n: Reply(text="42", completion_tokens=3))
    with FakeOpenAI(chat=chat) as server, client(server) as c:
        medium = ask(c, max_completion_tokens=1000)  # gpt-5 defaults to medium effort
        starved = ask(c, max_completion_tokens=100)
        low = ask(c, max_completion_tokens=100, reasoning_effort="low")
        unlimited = ask(c, reasoning_effort="high")
        chunks = list(ask(c, max_completion_tokens=50, stream=True))
    assert medium.choices[0].message.content == "42"
    assert medium.choices[0].finish_reason == "stop"
    assert medium.usage.completion_tokens == REASONING_TOKENS["medium"] + 3 == 195
    assert medium.usage.completion_tokens_details.reasoning_tokens == 192
    assert starved.choices[0].message.content == ""
    assert starved.choices[0].finish_reason == "length"
    assert starved.usage.completion_tokens == 100
    assert starved.usage.completion_tokens_details.reasoning_tokens == 100
    assert (low.choices[0].message.content, low.usage.completion_tokens) == ("42", 67)
    assert unlimited.usage.completion_tokens_details.reasoning_tokens == 512
    assert chunks[-1].choices[0].finish_reason == "length"
    assert "".join(ch.choices[0].delta.content or "" for ch in chunks) == ""

    with (
        FakeOpenAI(chat=reasoning_model(script(), family="gpt-5.1")) as server,
        client(server) as c,
    ):
        fast = ask(c, max_completion_tokens=5)  # gpt-5.1 defaults to no reasoning
    assert fast.choices[0].message.content == "100"
    assert fast.usage.completion_tokens_details.reasoning_tokens == 0


def test_reply_sets_finish_reason_and_reasoning_tokens() -> None:
    reply = Reply(text="9", completion_tokens=40, finish_reason="length", reasoning_tokens=32)
    with FakeOpenAI(chat=script(reply)) as server, client(server) as c:
        resp = ask(c)
    assert resp.choices[0].finish_reason == "length"
    assert (
        resp.usage.completion_tokens,
        resp.usage.completion_tokens_details.reasoning_tokens,
    ) == (
        40,
        32,
    )


# ----- the Batch API -----


def batch_line(custom_id: str, content: str, **params) -> dict:
    messages = [{"role": "user", "content": content}]
    body = {"model": "gpt-5-mini", "messages": messages, **params}
    return {"custom_id": custom_id, "method": "POST", "url": "/v1/chat/completions", "body": body}


def submit(c: OpenAI, lines: list, **kwargs):
    data = "".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines).encode()
    uploaded = c.files.create(file=("batch.jsonl", data), purpose="batch")
    return c.batches.create(
        input_file_id=uploaded.id,
        endpoint="/v1/chat/completions",
        completion_window="24h",
        **kwargs,
    )


def poll_batch(c: OpenAI, batch_id: str) -> list:
    batches = []
    for _ in range(20):
        batches.append(c.batches.retrieve(batch_id))
        if batches[-1].status in ("completed", "failed", "expired", "cancelled"):
            return batches
    raise AssertionError(f"batch never finished: {[b.status for b in batches]}")


def read_lines(c: OpenAI, file_id: str | None) -> list[dict]:
    return (
        []
        if file_id is None
        else [json.loads(x) for x in c.files.content(file_id).text.splitlines()]
    )


def test_batch_round_trip() -> None:
    path = REFERENCE_DIR / "gpt-4o-mini.csv"
    with path.open(newline="") as f:
        guesses = {int(row["index"]): float(row["guess"]) for row in csv.DictReader(f)}
    prompts = {f"item {i}": i for i in range(6)}
    chat = reasoning_model(recorded_replies(path, prompts))
    lines = [batch_line(f"req-{i}", f"item {i}", max_completion_tokens=1000) for i in range(6)]
    lines.append(batch_line("old-style", "item 0", max_tokens=5))  # refused: error file
    lines.append(batch_line("unknown", "never recorded"))  # 400 from recorded_replies
    with FakeOpenAI(chat=chat, batch_polls=2) as server, client(server) as c:
        created = submit(c, lines, metadata={"run": "test"})
        batches = poll_batch(c, created.id)
        final = batches[-1]
        output = read_lines(c, final.output_file_id)
        errors = read_lines(c, final.error_file_id)
        output_file = c.files.retrieve(final.output_file_id)
        listed = c.batches.list()

    assert (created.object, created.status, created.endpoint) == (
        "batch",
        "validating",
        lines[0]["url"],
    )
    assert created.id.startswith("batch_") and created.metadata == {"run": "test"}
    assert created.output_file_id is None and created.errors is None
    assert created.expires_at == created.created_at + 24 * 3600
    statuses = [b.status for b in batches]
    assert statuses == [
        "validating",
        "in_progress",
        "in_progress",
        "finalizing",
        "finalizing",
        "completed",
    ]
    assert final.in_progress_at and final.finalizing_at and final.completed_at
    assert final.failed_at is None and final.model == "gpt-5-mini"
    assert final.request_counts.model_dump() == {"total": 8, "completed": 6, "failed": 2}
    assert final.usage.output_tokens_details.reasoning_tokens == 6 * REASONING_TOKENS["medium"]
    assert output_file.purpose == "batch_output"

    by_id = {line["custom_id"]: line for line in output}
    assert [line["custom_id"] for line in output] != [f"req-{i}" for i in range(6)]  # shuffled
    for i in range(6):
        line = by_id[f"req-{i}"]
        assert line["id"].startswith("batch_req_") and line["error"] is None
        assert line["response"]["status_code"] == 200 and line["response"]["request_id"]
        completion = openai.types.chat.ChatCompletion.model_validate(line["response"]["body"])
        assert float(completion.choices[0].message.content) == guesses[i]
        assert completion.usage.completion_tokens_details.reasoning_tokens == 192
    failures = {line["custom_id"]: line["response"] for line in errors}
    assert failures["old-style"]["status_code"] == 400
    assert failures["old-style"]["body"]["error"]["code"] == "unsupported_parameter"
    assert failures["unknown"]["body"]["error"]["message"] == "unknown prompt"

    assert server.chat_requests() == []  # nothing went through the direct endpoint
    assert [user_content(b) for b in server.batch_chat_requests()] == [
        user_content(line["body"]) for line in lines
    ]
    assert server.batch_requests[0]["input_file_id"] == created.input_file_id
    assert list(server.batches) == [created.id]
    assert [b.id for b in listed.data] == [created.id] and listed.has_more is False


def test_batch_expired_keeps_partial_results() -> None:
    lines = [batch_line(f"req-{i}", f"item {i}") for i in range(4)]
    with FakeOpenAI(batch_outcome="expired") as server, client(server) as c:
        batches = poll_batch(c, submit(c, lines).id)
        final = batches[-1]
        output = read_lines(c, final.output_file_id)
        errors = read_lines(c, final.error_file_id)
    assert [b.status for b in batches] == ["in_progress", "expired"]
    assert final.expired_at is not None and final.completed_at is None
    assert sorted(line["custom_id"] for line in output) == ["req-0", "req-1"]
    assert sorted(line["custom_id"] for line in errors) == ["req-2", "req-3"]
    assert errors[0]["response"] is None
    assert errors[0]["error"] == {
        "code": "batch_expired",
        "message": "This request could not be executed before the completion window expired.",
    }
    assert final.request_counts.model_dump() == {"total": 4, "completed": 2, "failed": 2}
    assert len(server.batch_chat_requests()) == 2 and server.chat_requests() == []


def test_batch_fails_on_invalid_input() -> None:
    lines = [
        batch_line("a", "item 0"),
        batch_line("a", "item 1"),  # duplicate custom_id
        {**batch_line("b", "item 2"), "url": "/v1/completions"},
        "{not json",
        {**batch_line("c", "item 3"), "method": "GET"},
        {"method": "POST", "url": "/v1/chat/completions", "body": {}},
        batch_line("d", "item 4") | {"body": {"model": "gpt-4o", "messages": []}},
    ]
    with FakeOpenAI() as server, client(server) as c:
        batches = poll_batch(c, submit(c, lines).id)
    final = batches[-1]
    assert [b.status for b in batches] == ["failed"]
    assert final.failed_at is not None and final.output_file_id is None
    assert final.errors.object == "list"
    assert [(e.line, e.code, e.param) for e in final.errors.data] == [
        (2, "duplicate_custom_id", "custom_id"),
        (3, "url_mismatch", "url"),
        (4, "invalid_json_line", None),
        (5, "invalid_value", "method"),
        (6, "missing_required_parameter", "custom_id"),
        (7, "model_mismatch", "body.model"),
    ]
    assert server.batch_chat_requests() == [] and server.chat_requests() == []


def test_batch_refused_at_creation_and_failed_by_the_provider() -> None:
    with FakeOpenAI(batch_outcome="failed") as server, client(server, max_retries=0) as c:
        tuning = c.files.create(file=("t.jsonl", TRAIN), purpose="fine-tune")
        with pytest.raises(openai.BadRequestError, match="purpose 'batch'") as wrong_purpose:
            c.batches.create(
                input_file_id=tuning.id, endpoint="/v1/chat/completions", completion_window="24h"
            )
        with pytest.raises(openai.BadRequestError, match="file-404"):
            c.batches.create(
                input_file_id="file-404", endpoint="/v1/chat/completions", completion_window="24h"
            )
        with pytest.raises(openai.NotFoundError, match="batch_404"):
            c.batches.retrieve("batch_404")
        empty = poll_batch(c, submit(c, []).id)[-1]
        final = poll_batch(c, submit(c, [batch_line("a", "item 0")]).id)[-1]
    assert wrong_purpose.value.param == "input_file_id"
    assert [e.code for e in empty.errors.data] == ["empty_file"]
    assert final.status == "failed"
    (error,) = final.errors.data
    assert (error.code, error.line) == ("token_limit_exceeded", None)
    assert error.message.startswith("Enqueued token limit reached for gpt-5-mini in organization")
    assert len(server.batch_requests) == 2 and server.batch_chat_requests() == []


def test_batch_cancel() -> None:
    lines = [batch_line(f"req-{i}", f"item {i}") for i in range(4)]
    with FakeOpenAI() as server, client(server, max_retries=0) as c:
        batch = submit(c, lines)
        cancelling = c.batches.cancel(batch.id)
        cancelled = c.batches.retrieve(batch.id)
        with pytest.raises(openai.BadRequestError, match="status 'cancelled'"):
            c.batches.cancel(batch.id)
    assert (cancelling.status, cancelled.status) == ("cancelling", "cancelled")
    assert cancelling.cancelling_at is not None and cancelled.cancelled_at is not None
    assert cancelled.output_file_id is None and server.batch_chat_requests() == []

    with FakeOpenAI(batch_outcome="cancelled") as server, client(server) as c:
        batches = poll_batch(c, submit(c, lines).id)
        output = read_lines(c, batches[-1].output_file_id)
        errors = read_lines(c, batches[-1].error_file_id)
    assert [b.status for b in batches] == ["in_progress", "cancelling", "cancelled"]
    assert len(output) == 2 and {e["error"]["code"] for e in errors} == {"batch_cancelled"}


# ----- transport failures -----


def test_silent_server_times_out() -> None:
    with SilentServer() as silent:
        assert silent.base_url.startswith("http://127.0.0.1:")
        with OpenAI(base_url=silent.base_url, api_key="k", timeout=0.3, max_retries=0) as c:
            start = time.perf_counter()
            with pytest.raises(openai.APITimeoutError):
                ask(c)
            elapsed = time.perf_counter() - start
        assert silent.connections == 1 and silent.received > 0
    assert 0.25 < elapsed < 1.5


def test_closed_port_refuses_connections() -> None:
    port = closed_port()
    with OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="k", max_retries=0) as c:
        start = time.perf_counter()
        with pytest.raises(openai.APIConnectionError) as exc:
            ask(c)
    assert not isinstance(exc.value, openai.APITimeoutError)
    assert time.perf_counter() - start < 1.0
