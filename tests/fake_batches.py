"""The Batch API of the fake OpenAI server (standard library only), routed from ``FakeOpenAI``.

As OpenAI runs it: upload a JSONL file with purpose ``batch`` (one request a line:
``{"custom_id", "method": "POST", "url": "/v1/chat/completions", "body"}``), create a batch from
it, poll it, then read ``output_file_id`` (answered requests) and ``error_file_id`` (requests
answered with status >= 400, and requests that never ran) with ``files.content``.

- Each GET of a batch counts as one poll; every ``polls`` polls it moves one status on:
  validating -> in_progress -> finalizing -> completed. ``POST .../cancel`` makes it
  ``cancelling``, and the next step ``cancelled``.
- The input is checked when validation ends; any bad line fails the batch (status ``failed``,
  ``errors.data`` with ``code``, ``message``, ``param``, 1-based ``line``), nothing is run.
- Requests run when in_progress ends, through the server's chat responder (the same one as direct
  requests, so ``reasoning_model`` and ``recorded_replies`` apply); their bodies go to
  ``batch_chat_requests()``, never to ``chat_requests()``.
- Output and error lines come in a shuffled (seeded, so repeatable) order: match them by
  ``custom_id``. A file is only made when it has lines (no successes: ``output_file_id`` null).
- ``outcome`` makes batches end badly: "failed" (validation fails on OpenAI's enqueued-token
  limit), "expired" (after in_progress: the first half of the requests, in input order, ran; the
  rest are in the error file with ``error.code`` "batch_expired" and ``response: null``),
  "cancelled" (in_progress -> cancelling -> cancelled, same split with "batch_cancelled"). A batch
  cancelled by the client while in progress ends the same way; cancelled while validating, it
  ran nothing.
"""

from __future__ import annotations

import copy
import hashlib
import json
import random
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any

from tests.openai_server import ORG, Reply, error_body

if TYPE_CHECKING:
    from tests.openai_server import FakeOpenAI

__all__ = ["BATCH_ENDPOINTS", "MAX_REQUESTS", "OUTCOMES", "BatchAPI"]

BATCH_ENDPOINTS = (  # what the API accepts as a batch's endpoint (openai 3.57)
    "/v1/responses",
    "/v1/chat/completions",
    "/v1/embeddings",
    "/v1/completions",
    "/v1/moderations",
    "/v1/images/generations",
    "/v1/images/edits",
    "/v1/videos",
)
SERVED_ENDPOINTS = ("/v1/chat/completions",)  # what this server can run
COMPLETION_WINDOWS = {"24h": 24 * 3600}
MAX_REQUESTS = 50_000
OUTCOMES = (None, "failed", "expired", "cancelled")
FINISHED = ("completed", "failed", "expired", "cancelled")
NOT_RUN = {
    "expired": (
        "batch_expired",
        "This request could not be executed before the completion window expired.",
    ),
    "cancelled": (
        "batch_cancelled",
        "This request was not executed because the batch was cancelled.",
    ),
}


@dataclass
class _Work:
    """What the server keeps about a batch besides the batch object."""

    polls: int = 0
    lines: list[tuple[str, dict]] = field(default_factory=list)  # (custom_id, body)
    output: list[dict] | None = None  # set once the requests have run
    errors: list[dict] = field(default_factory=list)
    cancelled_from: str | None = None


def _line_error(code: str, message: str, line: int | None, param: str | None = None) -> dict:
    return {"code": code, "message": message, "param": param, "line": line}


def _invalid_value(value: Any, allowed: Any, param: str) -> Reply:
    supported = ", ".join(f"'{v}'" for v in allowed)
    message = f"Invalid value: '{value}'. Supported values are: {supported}."
    return Reply(400, json_body=error_body(message, code="invalid_value", param=param))


def _usage_total(bodies: list[Any]) -> dict:
    totals = {"input": 0, "cached": 0, "output": 0, "reasoning": 0}
    for body in bodies:
        usage = body.get("usage") if isinstance(body, dict) else None
        if not isinstance(usage, dict):
            continue
        totals["input"] += usage.get("prompt_tokens") or 0
        totals["cached"] += (usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0
        totals["output"] += usage.get("completion_tokens") or 0
        details = usage.get("completion_tokens_details") or {}
        totals["reasoning"] += details.get("reasoning_tokens") or 0
    return {
        "input_tokens": totals["input"],
        "input_tokens_details": {"cached_tokens": totals["cached"]},
        "output_tokens": totals["output"],
        "output_tokens_details": {"reasoning_tokens": totals["reasoning"]},
        "total_tokens": totals["input"] + totals["output"],
    }


class BatchAPI:
    """Batches of one ``FakeOpenAI``: ``batches`` by id, ``requests`` (create bodies),
    ``chat_bodies`` (batched chat bodies run). State changes happen under ``fake._lock``."""

    def __init__(self, fake: FakeOpenAI, polls: int = 1, outcome: str | None = None) -> None:
        if polls < 1:
            raise ValueError(f"batch_polls must be at least 1, not {polls}")
        if outcome not in OUTCOMES:
            raise ValueError(f"batch_outcome must be one of {OUTCOMES}, not {outcome!r}")
        self.fake = fake
        self.polls = polls
        self.outcome = outcome
        self.batches: dict[str, dict] = {}
        self.requests: list[dict] = []
        self.chat_bodies: list[dict] = []
        self._work: dict[str, _Work] = {}

    def listing(self) -> list[dict]:
        """Every batch, newest first."""
        with self.fake._lock:
            return [copy.deepcopy(b) for b in reversed(self.batches.values())]

    def route(self, method: str, rest: list[str], body: Any) -> Reply | None:
        """Answer ``/v1/batches/<rest>`` (the listing is answered by the server)."""
        match (method, *rest):
            case ("POST",):
                return self._create(body)
            case ("GET", batch_id) if batch_id in self.batches:
                with self.fake._lock:
                    work = self._work[batch_id]
                    work.polls += 1
                    if work.polls >= self.polls:
                        work.polls = 0
                        self._advance(batch_id)
                    return Reply(json_body=copy.deepcopy(self.batches[batch_id]))
            case ("POST", batch_id, "cancel") if batch_id in self.batches:
                return self._cancel(batch_id)
            case (_, batch_id, *_):
                message = f"No batch found with id '{batch_id}'."
                return Reply(404, json_body=error_body(message, 404))
        return None

    # ----- creation -----

    def _create(self, body: Any) -> Reply:
        if not isinstance(body, dict):
            return Reply(400, json_body=error_body("We could not parse the JSON body."))
        for param in ("completion_window", "endpoint", "input_file_id"):
            if body.get(param) is None:
                message = f"Missing required parameter: '{param}'."
                return Reply(
                    400,
                    json_body=error_body(message, code="missing_required_parameter", param=param),
                )
        endpoint, window = body["endpoint"], body["completion_window"]
        if endpoint not in BATCH_ENDPOINTS:
            return _invalid_value(endpoint, BATCH_ENDPOINTS, "endpoint")
        if window not in COMPLETION_WINDOWS:
            return _invalid_value(window, COMPLETION_WINDOWS, "completion_window")
        if endpoint not in SERVED_ENDPOINTS:
            message = f"This test server runs batches for {', '.join(SERVED_ENDPOINTS)} only."
            return Reply(400, json_body=error_body(message, param="endpoint"))
        file_id = body["input_file_id"]
        with self.fake._lock:
            entry = self.fake.files.get(file_id)
            if entry is None:
                message = f"Invalid 'input_file_id': no file with id '{file_id}' was found."
                return Reply(400, json_body=error_body(message, param="input_file_id"))
            if entry["purpose"] != "batch":
                message = (
                    f"Invalid 'input_file_id': file '{file_id}' has purpose "
                    f"'{entry['purpose']}', but a batch input file must have purpose 'batch'."
                )
                return Reply(400, json_body=error_body(message, param="input_file_id"))
            now = int(time.time())
            batch_id = f"batch_{next(self.fake._ids)}"
            batch = {
                "id": batch_id,
                "object": "batch",
                "endpoint": endpoint,
                "model": None,
                "errors": None,
                "input_file_id": file_id,
                "completion_window": window,
                "status": "validating",
                "output_file_id": None,
                "error_file_id": None,
                "created_at": now,
                "in_progress_at": None,
                "expires_at": now + COMPLETION_WINDOWS[window],
                "finalizing_at": None,
                "completed_at": None,
                "failed_at": None,
                "expired_at": None,
                "cancelling_at": None,
                "cancelled_at": None,
                "request_counts": {"total": 0, "completed": 0, "failed": 0},
                "usage": _usage_total([]),
                "metadata": body.get("metadata"),
            }
            self.requests.append(body)
            self.batches[batch_id] = batch
            self._work[batch_id] = _Work()
            return Reply(json_body=copy.deepcopy(batch))

    # ----- life cycle -----

    def _advance(self, batch_id: str) -> None:
        """Move a batch one status on (called under the lock)."""
        batch, work = self.batches[batch_id], self._work[batch_id]
        now = int(time.time())
        status = batch["status"]
        if status == "validating":
            errors = self._validate(batch, work)
            if not errors and self.outcome == "failed":
                message = (
                    f"Enqueued token limit reached for {batch['model']} in organization {ORG}. "
                    "Limit: 2,000,000 enqueued tokens. Please try again once some in_progress "
                    "batches have been completed."
                )
                errors = [_line_error("token_limit_exceeded", message, None)]
            if errors:
                batch.update(
                    status="failed", failed_at=now, errors={"object": "list", "data": errors}
                )
                work.lines = []
                return
            counts = {"total": len(work.lines), "completed": 0, "failed": 0}
            batch.update(status="in_progress", in_progress_at=now, request_counts=counts)
        elif status == "in_progress":
            if self.outcome == "expired":
                self._run(batch, work, len(work.lines) // 2, "expired")
                self._write_files(batch, work)
                batch.update(status="expired", expired_at=now)
            elif self.outcome == "cancelled":
                work.cancelled_from = "in_progress"
                batch.update(status="cancelling", cancelling_at=now)
            else:
                self._run(batch, work, len(work.lines))
                batch.update(status="finalizing", finalizing_at=now)
        elif status == "finalizing":
            self._write_files(batch, work)
            batch.update(status="completed", completed_at=now)
        elif status == "cancelling":
            if work.output is None and work.cancelled_from == "in_progress":
                self._run(batch, work, len(work.lines) // 2, "cancelled")
            if work.output is not None:
                self._write_files(batch, work)
            batch.update(status="cancelled", cancelled_at=now)

    def _cancel(self, batch_id: str) -> Reply:
        with self.fake._lock:
            batch, work = self.batches[batch_id], self._work[batch_id]
            status = batch["status"]
            if status in FINISHED:
                message = f"Cannot cancel a batch with status '{status}'."
                return Reply(400, json_body=error_body(message))
            if status != "cancelling":
                work.cancelled_from, work.polls = status, 0
                batch.update(status="cancelling", cancelling_at=int(time.time()))
            return Reply(json_body=copy.deepcopy(batch))

    def _validate(self, batch: dict, work: _Work) -> list[dict]:
        """Parse the input file into ``work.lines``; OpenAI-style errors for bad lines."""
        entry = self.fake.files.get(batch["input_file_id"])
        if entry is None:
            message = f"The input file {batch['input_file_id']} was deleted before validation."
            return [_line_error("file_not_found", message, None, "input_file_id")]
        errors: list[dict] = []
        seen: set[str] = set()
        text = entry["content"].decode("utf-8", errors="replace")
        for number, raw in enumerate(text.splitlines(), start=1):
            if not raw.strip():
                continue
            try:
                request = json.loads(raw)
            except ValueError:
                request = None
            if not isinstance(request, dict):
                message = "This line is not parseable as valid JSON."
                errors.append(_line_error("invalid_json_line", message, number))
                continue
            error = self._check_line(request, batch, seen)
            if error is not None:
                errors.append(_line_error(*error[:2], number, error[2]))
                continue
            seen.add(request["custom_id"])
            work.lines.append((request["custom_id"], request["body"]))
            batch["model"] = batch["model"] or request["body"].get("model")
        if not errors and not work.lines:
            errors.append(_line_error("empty_file", "The batch input file is empty.", None))
        if len(work.lines) > MAX_REQUESTS:
            message = f"The batch input file has more than the maximum {MAX_REQUESTS} requests."
            errors.append(_line_error("too_many_tasks", message, None))
        return errors

    @staticmethod
    def _check_line(request: dict, batch: dict, seen: set[str]) -> tuple[str, str, str] | None:
        """(code, message, param) for a parsed input line that is not acceptable."""
        for param in ("custom_id", "method", "url", "body"):
            if request.get(param) is None:
                return (
                    "missing_required_parameter",
                    f"Missing required parameter: '{param}'.",
                    param,
                )
        custom_id, body = request["custom_id"], request["body"]
        if not isinstance(custom_id, str):
            return "invalid_type", "The custom_id for this request must be a string.", "custom_id"
        if custom_id in seen:
            message = (
                "The custom_id for this request is a duplicate of another request. The custom_id "
                "parameter must be unique for each request in a batch."
            )
            return "duplicate_custom_id", message, "custom_id"
        if request["method"] != "POST":
            message = f"Invalid value: '{request['method']}'. The method must be 'POST'."
            return "invalid_value", message, "method"
        if request["url"] != batch["endpoint"]:
            message = "The URL provided for this request does not match the batch endpoint."
            return "url_mismatch", message, "url"
        if not isinstance(body, dict):
            return "invalid_type", "The body for this request must be a JSON object.", "body"
        if batch["model"] is not None and body.get("model") != batch["model"]:
            message = (
                "The provided model does not match the model of the other requests in this "
                "batch: each batch can only include requests to a single model."
            )
            return "model_mismatch", message, "body.model"
        return None

    def _run(self, batch: dict, work: _Work, count: int, stopped: str | None = None) -> None:
        """Answer the first ``count`` requests; the rest did not run (``stopped`` says why)."""
        output: list[dict] = []
        errors: list[dict] = []
        for index, (custom_id, body) in enumerate(work.lines):
            request_hash = hashlib.sha256(f"{batch['id']}/{custom_id}".encode()).hexdigest()
            line = {"id": f"batch_req_{request_hash[:24]}", "custom_id": custom_id}
            if index >= count:
                code, message = NOT_RUN[stopped or "expired"]
                errors.append(
                    line | {"response": None, "error": {"code": code, "message": message}}
                )
                continue
            status, response_body = self._answer(body)
            response = {
                "status_code": status,
                "request_id": request_hash[24:56],
                "body": response_body,
            }
            (errors if status >= 400 else output).append(
                line | {"response": response, "error": None}
            )
        work.output, work.errors = output, errors
        counts = {"total": len(work.lines), "completed": len(output), "failed": len(errors)}
        batch.update(
            request_counts=counts,
            usage=_usage_total([line["response"]["body"] for line in output]),
        )

    def _answer(self, body: dict) -> tuple[int, Any]:
        """Status and JSON body the server's chat responder gives for one batched request."""
        self.chat_bodies.append(body)
        reply, n, _ = self.fake._respond(body)
        if reply.json_body is not None:
            return reply.status, reply.json_body
        if reply.raw_body is not None:
            return reply.status, reply.raw_body.decode("utf-8", errors="replace")
        if reply.status >= 400:
            phrase = BaseHTTPRequestHandler.responses.get(reply.status, ("Error",))[0]
            return reply.status, error_body(reply.text or phrase, reply.status)
        return reply.status, self.fake._completion(reply, body, n)

    def _write_files(self, batch: dict, work: _Work) -> None:
        """Store the output and error files (lines shuffled, seeded by the batch id)."""
        for lines, key, suffix in (
            (work.output or [], "output_file_id", "output"),
            (work.errors, "error_file_id", "error"),
        ):
            if not lines:
                continue
            shuffled = list(lines)
            random.Random(batch["id"]).shuffle(shuffled)
            if len(shuffled) > 1 and shuffled == lines:
                shuffled.reverse()
            content = "".join(json.dumps(line) + "\n" for line in shuffled).encode()
            name = f"{batch['id']}_{suffix}.jsonl"
            batch[key] = self.fake._add_file(name, "batch_output", content)
