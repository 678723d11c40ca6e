"""The Batch API path of the chat predictor: every request not yet in the response cache goes out
as one batch (a JSONL upload, ``/v1/batches``), is polled until it ends, and each answer is written
into the response cache, from where the run is scored as usual.

The batch's id is kept in the cache database under a key made of the requests it answers, so a
run interrupted while the batch is in progress resumes the same batch when rerun, and a run whose
answers are all cached makes no batch at all.
(https://platform.openai.com/docs/guides/batch, https://platform.openai.com/docs/api-reference/batch)
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from harness.cache import ResponseCache
from harness.errors import PricebenchError, first_line

ENDPOINT = "/v1/chat/completions"
WINDOW = "24h"  # the only completion window OpenAI offers
ACTIVE = ("validating", "in_progress", "finalizing", "cancelling")


@dataclass
class BatchResult:
    """What one batch answered: completion bodies and failures by request key."""

    batch_id: str
    answers: dict[str, dict[str, Any]] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)
    refused: dict[str, dict[str, Any]] = field(default_factory=dict)  # key -> the error object
    polls: int = 0
    error: str | None = None  # why the batch ended without completing: store answers, then stop


def state_key(base_url: str, keys: Sequence[str]) -> str:
    """The key a batch is remembered under: its endpoint and the set of requests it answers."""
    text = json.dumps([base_url.rstrip("/"), sorted(keys)])
    return "batch:" + hashlib.sha256(text.encode()).hexdigest()


def input_file(requests: Sequence[tuple[str, dict[str, Any]]], endpoint: str = ENDPOINT) -> bytes:
    """The batch's JSONL: one ``{custom_id, method, url, body}`` line per (key, body)."""
    lines = (
        json.dumps({"custom_id": key, "method": "POST", "url": endpoint, "body": body})
        for key, body in requests
    )
    return ("\n".join(lines) + "\n").encode()


async def run_batch(
    client: Any,
    requests: Sequence[tuple[str, dict[str, Any]]],
    cache: ResponseCache,
    base_url: str,
    poll_seconds: float,
    say: Callable[[str], None],
    endpoint: str = ENDPOINT,
) -> BatchResult:
    """Submit ``requests`` (cache key, body) as one batch, or resume the one already submitted
    for them, poll it every ``poll_seconds`` until it ends and return its answers."""
    import openai

    remembered = state_key(base_url, [key for key, _ in requests])
    try:
        batch = await _resume(client, cache, remembered, say)
        if batch is None:
            upload = await client.files.create(
                file=("pricebench-batch.jsonl", io.BytesIO(input_file(requests, endpoint))),
                purpose="batch",
            )
            batch = await client.batches.create(
                input_file_id=upload.id,
                endpoint=endpoint,
                completion_window=WINDOW,
                metadata={"source": "pricebench"},
            )
            cache.put_batch(remembered, batch.id)
            say(
                f"batch {batch.id}: {len(requests)} requests submitted; polling every "
                f"{poll_seconds:g} s (Ctrl-C stops polling, not the batch: rerun to resume it)"
            )
        result = BatchResult(batch.id)
        last = ""
        while batch.status in ACTIVE:
            counts = batch.request_counts
            done = f", {counts.completed + counts.failed}/{counts.total} done"
            now = batch.status + (done if counts and counts.total else "")
            if now != last:
                say(f"batch {batch.id}: {now}")
                last = now
            await asyncio.sleep(poll_seconds)
            batch = await client.batches.retrieve(batch.id)
            result.polls += 1
        await _collect(client, batch, result)
    except openai.APIError as exc:
        raise PricebenchError(
            f"the Batch API at {base_url} failed ({first_line(exc)}); set predictor.batch=false "
            "to send requests one by one"
        ) from None
    cache.drop_batch(remembered)
    if batch.status != "completed":
        result.error = _ended_badly(batch, len(result.answers), len(requests))
    return result


async def _resume(client: Any, cache: ResponseCache, key: str, say: Callable[[str], None]) -> Any:
    batch_id = cache.get_batch(key)
    if batch_id is None:
        return None
    import openai

    try:
        batch = await client.batches.retrieve(batch_id)
    except openai.NotFoundError:
        cache.drop_batch(key)
        return None
    say(f"batch {batch_id}: resuming the batch submitted earlier ({batch.status})")
    return batch


async def _collect(client: Any, batch: Any, result: BatchResult) -> None:
    for file_id in (batch.output_file_id, batch.error_file_id):
        if not file_id:
            continue
        content = await client.files.content(file_id)
        for number, line in enumerate(content.text.splitlines(), 1):
            if line.strip():
                _read_line(line, number, result)


def _read_line(line: str, number: int, result: BatchResult) -> None:
    try:
        row = json.loads(line)
        key = str(row["custom_id"])
    except (ValueError, KeyError, TypeError):
        raise PricebenchError(
            f"batch {result.batch_id}: line {number} of its output is not a batch result: "
            f"{line[:80]!r}"
        ) from None
    response = row.get("response") or {}
    body = response.get("body")
    status = response.get("status_code")
    if status == 200 and isinstance(body, dict):
        result.answers[key] = body
        return
    error = (body or {}).get("error") if isinstance(body, dict) else None
    error = error or row.get("error") or {}
    if status == 400 and error.get("code") in ("unsupported_parameter", "unsupported_value"):
        result.refused[key] = error
    why = error.get("message") or f"status {status}"
    result.failures[key] = f"{status or error.get('code') or 'error'}: {str(why)[:200]}"


def _ended_badly(batch: Any, answered: int, total: int) -> str:
    errors = getattr(batch, "errors", None)
    data = getattr(errors, "data", None) or []
    if batch.status == "failed":
        first = data[0] if data else None
        why = (
            f"line {first.line}: {first.message}" if first and first.line else
            (first.message if first else "no reason given")
        )  # fmt: skip
        return (
            f"batch {batch.id} failed ({why}); nothing was answered or charged: fix the cause, "
            "or set predictor.batch=false"
        )
    kept = (
        f"its {answered} answers are cached, so a rerun sends only the other {total - answered}"
        if answered
        else "nothing was answered"
    )
    return (
        f"batch {batch.id} {batch.status} before it completed ({answered} of {total} requests "
        f"answered); {kept}"
    )
