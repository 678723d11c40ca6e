"""A small OpenAI-compatible HTTP server for tests and benchmarks (standard library only).

The real ``openai`` SDK talks to it over HTTP on 127.0.0.1, so retries, timeouts, connection
pooling and response parsing are exercised as they are against the real API::

    with FakeOpenAI(chat=script(Reply(status=429), Reply(text="5"))) as server:
        client = OpenAI(base_url=server.base_url, api_key="test-key")

Other processes reach it through ``server.base_url`` (e.g. the CLI in a subprocess), or run it
alone: ``python -m tests.openai_server --latency 0.05`` prints the base URL and serves until killed.

More of the real API lives next to it: ``tests.fake_reasoning`` (GPT-5-family parameter checks and
reasoning tokens, ``reasoning_model``, re-exported here), ``tests.fake_batches`` (the Batch API,
routed from ``FakeOpenAI``) and, below, ``SilentServer`` and ``closed_port`` for transport failures.
"""

from __future__ import annotations

import base64
import contextlib
import csv
import hashlib
import itertools
import json
import math
import re
import selectors
import socket
import socketserver
import struct
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from email.message import Message
from email.parser import BytesHeaderParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

__all__ = [
    "FakeOpenAI",
    "Reply",
    "SilentServer",
    "closed_port",
    "error_body",
    "recorded_replies",
    "script",
]

HOST = "127.0.0.1"
ORG = "org-test"
FILE_PURPOSES = {"assistants", "batch", "fine-tune", "vision", "user_data", "evals"}
RATE_LIMIT_HEADERS = {
    "x-ratelimit-limit-requests": "10000",
    "x-ratelimit-remaining-requests": "9999",
    "x-ratelimit-reset-requests": "6ms",
    "x-ratelimit-limit-tokens": "200000",
    "x-ratelimit-remaining-tokens": "199900",
    "x-ratelimit-reset-tokens": "30ms",
}
ERROR_KINDS = {  # status -> (error type, error code), as the real API sends them
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("invalid_request_error", "unsupported_country_region_territory"),
    404: ("invalid_request_error", None),
    408: ("timeout", None),
    409: ("invalid_request_error", "conflict"),
    429: ("requests", "rate_limit_exceeded"),
}
MISSING_KEY = (
    "You didn't provide an API key. You need to provide your API key in an Authorization header "
    "using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (with blank "
    "username) if you're accessing the API from your browser and are prompted for a username and "
    "password. You can obtain an API key from https://platform.openai.com/account/api-keys."
)
NO_PARAM = {"param": None, "code": None}
NEXT_STATUS = {"validating_files": "queued", "queued": "running", "running": "succeeded"}
TOTAL_STEPS = 5
RESULT_HEADER = "step,train_loss,train_accuracy,valid_loss,valid_mean_token_accuracy"
EMBEDDING_DIMENSIONS = 64  # the fake embeddings' length when a request names no `dimensions`
MAX_EMBEDDING_INPUTS = 2048  # inputs a request may hold (the API reference's limit)
_WORD = re.compile(r"\w\w+")


@dataclass
class Reply:
    """What the server sends for one request.

    For a chat request with status < 400 and no ``json_body``/``raw_body``, a normal
    ``chat.completion`` is built around ``text`` (``None`` gives ``content: null``). For status
    >= 400 with no body, an OpenAI-shaped error is sent, with ``text`` as its message if given.
    ``headers`` override the defaults (including ``content-type``); ``content-length`` is always
    computed by the server. ``finish_reason`` and ``reasoning_tokens`` (part of
    ``completion_tokens``, as in ``usage.completion_tokens_details``) go into the completion.
    """

    status: int = 200
    text: str | None = None
    json_body: Any = None
    raw_body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    prompt_tokens: int = 100
    completion_tokens: int = 2
    finish_reason: str = "stop"
    reasoning_tokens: int = 0


Responder = Callable[[dict, int], Reply]
Embedder = Callable[[str, int], list[float]]


def hashed_words(text: str, dimensions: int) -> list[float]:
    """A deterministic stand-in for an embedding: the text's lowercased words hashed into
    ``dimensions`` buckets (signed), scaled to length 1, so texts sharing words lie close."""
    vector = [0.0] * dimensions
    for word in _WORD.findall(text.lower()):
        digest = hashlib.blake2b(word.encode("utf-8"), digest_size=8).digest()
        bucket = int.from_bytes(digest[:4], "little") % dimensions
        vector[bucket] += 1.0 if digest[4] & 1 else -1.0
    norm = math.sqrt(sum(v * v for v in vector))
    if not norm:
        vector[0], norm = 1.0, 1.0
    return [v / norm for v in vector]


def error_body(message: str, status: int = 400, code: str | None = None, param: str | None = None):
    """The JSON body OpenAI sends with an error: ``{"error": {message, type, param, code}}``."""
    kind, default_code = ERROR_KINDS.get(status, ("server_error", None))
    return {
        "error": {"message": message, "type": kind, "param": param, "code": code or default_code}
    }


def api_key_error(authorization: str | None) -> dict:
    """OpenAI's 401 body for a missing or wrong ``Authorization: Bearer <key>`` header."""
    scheme, _, key = (authorization or "").partition(" ")
    key = key.strip()
    if scheme.lower() != "bearer" or not key:
        return {"error": {"message": MISSING_KEY, "type": "invalid_request_error"} | NO_PARAM}
    masked = key[:3] + "*" * (len(key) - 7) + key[-4:] if len(key) > 7 else "*" * len(key)
    message = (
        f"Incorrect API key provided: {masked}. "
        "You can find your API key at https://platform.openai.com/account/api-keys."
    )
    return error_body(message, 401, code="invalid_api_key")


def script(*replies: Reply, then: Reply | None = None) -> Responder:
    """A chat responder giving ``replies`` in order, then ``then`` (default text "100") forever."""
    final = then if then is not None else Reply(text="100")
    return lambda body, n: replies[n] if n < len(replies) else final


def user_content(body: dict) -> str | None:
    """The content of the last user message of a chat request (text parts joined)."""
    users = [
        m for m in body.get("messages") or [] if isinstance(m, dict) and m.get("role") == "user"
    ]
    if not users:
        return None
    content = users[-1].get("content")
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return content


def recorded_replies(csv_path: str | Path, prompts: dict[str, int]) -> Responder:
    """A chat responder replaying recorded guesses (CSV ``index,guess``) for known prompts.

    ``prompts`` maps the user message content to an item index; unknown prompts get a 400.
    """
    with open(csv_path, newline="") as f:
        guesses = {int(row["index"]): float(row["guess"]) for row in csv.DictReader(f)}

    def respond(body: dict, n: int) -> Reply:
        index = prompts.get(user_content(body) or "")
        if index is None or index not in guesses:
            return Reply(status=400, json_body=error_body("unknown prompt"))
        text = f"{guesses[index]:.2f}"
        return Reply(text=text if float(text) == guesses[index] else repr(guesses[index]))

    return respond


class FakeOpenAI:
    """An OpenAI-compatible server on 127.0.0.1 in a daemon thread; a context manager.

    ``chat(body, n)`` answers each POST /v1/chat/completions and each request of a batch (``n``:
    0-based index among the chat requests it was asked to answer, direct and batched together);
    ``latency`` is added to every direct chat reply. Files, fine-tuning jobs and batches live in
    memory: each GET of a job advances it one status; ``fail_jobs`` makes jobs fail validation.
    Batches (``tests.fake_batches``) advance one status every ``batch_polls`` GETs;
    ``batch_outcome`` ("failed", "expired", "cancelled") makes them end badly.
    With ``api_key`` set, requests without ``Authorization: Bearer <api_key>`` get OpenAI's 401.
    POST /v1/embeddings answers as OpenAI's does (a list of ``embedding`` objects, ``float`` or
    ``base64`` as ``encoding_format`` asks, and ``usage``), each vector ``embed(text, dimensions)``
    (default :func:`hashed_words`); ``embedding_requests()`` holds their bodies.
    ``requests`` records every request (``method``, ``path``, ``body``, ``headers``, ``time`` and
    the ``status`` answered); ``errors`` collects exceptions raised by ``chat`` (the client gets a
    500 with ``x-should-retry: false``). ``batch_requests`` holds the bodies of batch creations,
    ``batches`` the batch objects by id.
    """

    def __init__(
        self,
        chat: Responder | None = None,
        latency: float = 0.0,
        fail_jobs: bool = False,
        port: int = 0,
        *,
        api_key: str | None = None,
        batch_polls: int = 1,
        batch_outcome: str | None = None,
        embed: Embedder | None = None,
    ) -> None:
        from tests.fake_batches import BatchAPI  # it imports Reply from here

        self.chat = chat or (lambda body, n: Reply(text="100"))
        self.latency = latency
        self.fail_jobs = fail_jobs
        self.port = port
        self.api_key = api_key
        self._batch_api = BatchAPI(self, polls=batch_polls, outcome=batch_outcome)
        self.batches: dict[str, dict] = self._batch_api.batches
        self.batch_requests: list[dict] = self._batch_api.requests
        self.requests: list[dict] = []
        self.errors: list[BaseException] = []
        self.files: dict[str, dict] = {}
        self.jobs: dict[str, dict] = {}
        self.job_events: dict[str, list[dict]] = {}
        self.job_requests: list[dict] = []
        self._chat_bodies: list[dict] = []
        self.embed = embed or hashed_words
        self._embedding_bodies: list[dict] = []
        self._answered = 0  # chat bodies given to the responder, direct and batched
        self._ids = itertools.count(1)
        self._lock = threading.RLock()
        self._connections: set[socket.socket] = set()
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>/v1`` (available once started)."""
        if self._httpd is None:
            raise RuntimeError("FakeOpenAI is not running: call start() or use it in a with block")
        return f"http://{HOST}:{self._httpd.server_address[1]}/v1"

    def start(self) -> FakeOpenAI:
        """Bind to 127.0.0.1 and serve in a daemon thread."""
        if self._httpd is not None:
            raise RuntimeError("FakeOpenAI is already running")
        self._httpd = _Server((HOST, self.port), _Handler)
        self._httpd.fake = self
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and drop open (keep-alive) connections."""
        if self._httpd is None:
            return
        self._httpd.shutdown()
        self._httpd.server_close()
        with self._lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        self._thread.join(timeout=5)
        self._httpd = self._thread = None

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def chat_requests(self) -> list[dict]:
        """Bodies of the chat completion requests received directly, in order (no batch lines)."""
        with self._lock:
            return list(self._chat_bodies)

    def embedding_requests(self) -> list[dict]:
        """Bodies of the embeddings requests received, in order."""
        with self._lock:
            return list(self._embedding_bodies)

    def batch_chat_requests(self) -> list[dict]:
        """Bodies of the batched chat requests answered so far, in the order they were run."""
        with self._lock:
            return list(self._batch_api.chat_bodies)

    # ----- routing (runs in handler threads) -----

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}-{next(self._ids)}"

    def _route(self, method: str, path: str, query: dict, body: Any, raw: bytes, ctype: str):
        parts = path.strip("/").split("/")
        if parts[:1] != ["v1"]:
            return None
        route = (method, *parts[1:])
        match route:
            case ("POST", "chat", "completions"):
                return self._chat(body)
            case ("POST", "embeddings"):
                return self._embeddings(body)
            case ("POST", "files"):
                return self._upload(raw, ctype)
            case ("GET", "files"):
                with self._lock:
                    data = [self._file_object(i) for i in reversed(self.files)]
                return _page(data, query)
            case ("GET", "files", file_id) | ("DELETE", "files", file_id) if file_id in self.files:
                if method == "DELETE":
                    with self._lock:
                        del self.files[file_id]
                    return Reply(json_body={"id": file_id, "object": "file", "deleted": True})
                return Reply(json_body=self._file_object(file_id))
            case ("GET", "files", file_id, "content") if file_id in self.files:
                ctype = {"content-type": "application/octet-stream"}
                return Reply(raw_body=self.files[file_id]["content"], headers=ctype)
            case ("POST", "fine_tuning", "jobs"):
                return self._create_job(body)
            case ("GET", "fine_tuning", "jobs"):
                with self._lock:
                    return _page([dict(j) for j in reversed(self.jobs.values())], query)
            case ("GET", "fine_tuning", "jobs", job_id) if job_id in self.jobs:
                with self._lock:
                    return Reply(json_body=self._advance(job_id))
            case ("POST", "fine_tuning", "jobs", job_id, "cancel") if job_id in self.jobs:
                with self._lock:
                    return self._cancel(job_id)
            case ("GET", "fine_tuning", "jobs", job_id, "events") if job_id in self.jobs:
                with self._lock:
                    return _page(list(reversed(self.job_events[job_id])), query)
            case ("GET", "fine_tuning", "jobs", job_id, "checkpoints") if job_id in self.jobs:
                return _page([], query)
            case ("GET", "batches"):
                return _page(self._batch_api.listing(), query)
            case (_, "batches", *rest):
                return self._batch_api.route(method, rest, body)
            case (_, "files", object_id, *_) | (_, "fine_tuning", "jobs", object_id, *_):
                return Reply(404, json_body=error_body(f"No such object: {object_id}", 404))
        return None

    def _chat(self, body: Any) -> Reply:
        if not isinstance(body, dict):
            return Reply(status=400, json_body=error_body("We could not parse the JSON body."))
        with self._lock:
            self._chat_bodies.append(body)
        reply, n, answered = self._respond(body)
        if not answered:
            return reply
        reply = replace(reply, delay=reply.delay + self.latency)
        if reply.status >= 400 or reply.json_body is not None or reply.raw_body is not None:
            return reply
        if not body.get("stream"):
            completion = self._completion(reply, body, n)
            return Reply(
                reply.status, json_body=completion, headers=reply.headers, delay=reply.delay
            )
        common = _completion_common(body, n)
        chunk = {**common, "object": "chat.completion.chunk", "usage": None}
        deltas = [{"role": "assistant", "content": ""}, {"content": reply.text}, {}]
        finish = [None, None, reply.finish_reason]
        events = [
            {**chunk, "choices": [{"index": 0, "delta": d, "logprobs": None, "finish_reason": f}]}
            for d, f in zip(deltas, finish, strict=True)
        ]
        if (body.get("stream_options") or {}).get("include_usage"):
            events.append({**chunk, "choices": [], "usage": _usage(reply)})
        sse = "".join(f"data: {json.dumps(e)}\n\n" for e in events) + "data: [DONE]\n\n"
        headers = {"content-type": "text/event-stream; charset=utf-8", **reply.headers}
        return Reply(reply.status, raw_body=sse.encode(), headers=headers, delay=reply.delay)

    def _embeddings(self, body: Any) -> Reply:
        """POST /v1/embeddings, shaped as the API reference's response: ``{"object": "list",
        "data": [{"object": "embedding", "index", "embedding"}], "model", "usage":
        {"prompt_tokens", "total_tokens"}}`` (tokens counted here as words, at least 1 an input).
        https://platform.openai.com/docs/api-reference/embeddings/create"""
        if not isinstance(body, dict):
            return Reply(status=400, json_body=error_body("We could not parse the JSON body."))
        with self._lock:
            self._embedding_bodies.append(body)
        inputs = body.get("input")
        if isinstance(inputs, str):
            inputs = [inputs]
        if not isinstance(inputs, list) or not inputs or len(inputs) > MAX_EMBEDDING_INPUTS:
            message = f"'input' must be a string or a list of 1 to {MAX_EMBEDDING_INPUTS} strings"
            return Reply(status=400, json_body=error_body(message, param="input"))
        if not all(isinstance(text, str) and text for text in inputs):
            message = "'$.input' is invalid: every input must be a non-empty string"
            return Reply(status=400, json_body=error_body(message, param="input"))
        if not isinstance(body.get("model"), str) or not body["model"]:
            return Reply(status=400, json_body=error_body("you must provide a model parameter"))
        dimensions = body.get("dimensions") or EMBEDDING_DIMENSIONS
        encoding = body.get("encoding_format") or "float"
        if encoding not in ("float", "base64") or not isinstance(dimensions, int):
            message = "'encoding_format' must be float or base64; 'dimensions' an integer"
            return Reply(status=400, json_body=error_body(message))
        data = []
        tokens = 0
        for index, text in enumerate(inputs):
            vector = [float(v) for v in self.embed(text, dimensions)]
            tokens += max(1, len(_WORD.findall(text)))
            embedding: Any = vector
            if encoding == "base64":  # little-endian float32, as the SDK decodes it
                packed = struct.pack(f"<{len(vector)}f", *vector)
                embedding = base64.b64encode(packed).decode("ascii")
            data.append({"object": "embedding", "index": index, "embedding": embedding})
        usage = {"prompt_tokens": tokens, "total_tokens": tokens}
        response = {"object": "list", "data": data, "model": body["model"], "usage": usage}
        return Reply(json_body=response)

    def _respond(self, body: dict) -> tuple[Reply, int, bool]:
        """Ask the responder for one chat body (direct or batched): reply, ``n``, no exception."""
        with self._lock:
            n = self._answered
            self._answered += 1
        try:
            return self.chat(body, n), n, True
        except Exception as exc:  # a bug in the test's responder: report it, don't retry it
            self.errors.append(exc)
            message = f"test server responder raised {exc!r}"
            headers = {"x-should-retry": "false"}
            return Reply(500, json_body=error_body(message, 500), headers=headers), n, False

    @staticmethod
    def _completion(reply: Reply, body: dict, n: int) -> dict:
        """The ``chat.completion`` object for a successful reply without a body of its own."""
        message: dict[str, Any] = {
            "role": "assistant",
            "content": reply.text,
            "refusal": None,
            "annotations": [],
        }
        choice = {
            "index": 0,
            "message": message,
            "finish_reason": reply.finish_reason,
            "logprobs": None,
        }
        return {
            **_completion_common(body, n),
            "object": "chat.completion",
            "choices": [choice],
            "usage": _usage(reply),
        }

    def _file_object(self, file_id: str) -> dict:
        f = self.files[file_id]
        return {
            "id": file_id,
            "object": "file",
            "bytes": len(f["content"]),
            "created_at": f["created_at"],
            "filename": f["filename"],
            "purpose": f["purpose"],
            "status": "processed",
            "status_details": None,
            "expires_at": None,
        }

    def _add_file(self, filename: str, purpose: str, content: bytes) -> str:
        file_id = self._new_id("file")
        entry = {"filename": filename, "purpose": purpose, "content": content}
        with self._lock:
            self.files[file_id] = {**entry, "created_at": int(time.time())}
        return file_id

    def _upload(self, raw: bytes, ctype: str) -> Reply:
        form = _parse_multipart(raw, ctype)
        if "file" not in form:
            return Reply(400, json_body=error_body("Missing file", param="file"))
        purpose = form.get("purpose", (None, b""))[1].decode()
        if purpose not in FILE_PURPOSES:
            return Reply(400, json_body=error_body(f"Invalid purpose {purpose!r}", param="purpose"))
        filename, content = form["file"]
        return Reply(
            json_body=self._file_object(self._add_file(filename or "upload", purpose, content))
        )

    def _create_job(self, body: Any) -> Reply:
        if not isinstance(body, dict) or not body.get("model"):
            return Reply(400, json_body=error_body("Missing model", param="model"))
        for param in ("training_file", "validation_file"):
            file_id = body.get(param)
            if (param == "training_file" or file_id) and (
                file_id not in self.files or self.files[file_id]["purpose"] != "fine-tune"
            ):
                message = f"invalid {param}: {file_id!r} is not an uploaded fine-tune file"
                return Reply(
                    400, json_body=error_body(message, code=f"invalid_{param}", param=param)
                )
        method = body.get("method") or {"type": "supervised", "supervised": {}}
        given = body.get("hyperparameters") or (method.get(method["type"]) or {}).get(
            "hyperparameters", {}
        )
        hyper = {"batch_size": "auto", "learning_rate_multiplier": "auto", "n_epochs": "auto"}
        hyper.update(given)
        job_id = self._new_id("ftjob")
        job = {
            "id": job_id,
            "object": "fine_tuning.job",
            "model": body["model"],
            "training_file": body["training_file"],
            "validation_file": body.get("validation_file"),
            "seed": body.get("seed") if body.get("seed") is not None else 42,
            "suffix": body.get("suffix"),
            "method": method,
            "hyperparameters": hyper,
            "integrations": body.get("integrations") or [],
            "metadata": body.get("metadata"),
            "status": "validating_files",
            "created_at": int(time.time()),
            "fine_tuned_model": None,
            "finished_at": None,
            "result_files": [],
            "trained_tokens": None,
            "error": None,
            "organization_id": ORG,
            "estimated_finish": None,
        }
        with self._lock:
            self.job_requests.append(body)
            self.jobs[job_id] = job
            self.job_events[job_id] = []
        self._event(job_id, f"Created fine-tuning job: {job_id}")
        self._event(job_id, f"Validating training file: {body['training_file']}")
        return Reply(json_body=dict(job))

    def _event(self, job_id: str, message: str, level: str = "info", data: dict | None = None):
        event = {
            "id": self._new_id("ftevent"),
            "object": "fine_tuning.job.event",
            "created_at": int(time.time()),
            "level": level,
            "message": message,
            "type": "metrics" if data else "message",
            "data": data or {},
        }
        with self._lock:
            self.job_events[job_id].append(event)

    def _advance(self, job_id: str) -> dict:
        """Move a job one status on (validating_files → queued → running → succeeded)."""
        job = self.jobs[job_id]
        status = NEXT_STATUS.get(job["status"])
        if status is None:
            return dict(job)
        if self.fail_jobs and job["status"] == "validating_files":
            message = "The training file is invalid: no valid chat examples were found."
            error = {"code": "invalid_training_file", "message": message, "param": "training_file"}
            job.update(status="failed", error=error, finished_at=int(time.time()))
            self._event(job_id, message, level="error")
            return dict(job)
        job["status"] = status
        if status == "queued":
            self._event(job_id, "Files validated, moving job to queued state")
        elif status == "running":
            hyper = job["hyperparameters"]
            defaults = {"batch_size": 1, "learning_rate_multiplier": 1.8, "n_epochs": 3}
            hyper.update({k: v for k, v in defaults.items() if hyper.get(k) == "auto"})
            job["estimated_finish"] = int(time.time()) + 60
            self._event(job_id, "Fine-tuning job started")
            for row in _metric_rows(job["validation_file"] is not None):
                data = {"total_steps": TOTAL_STEPS, **{k: v for k, v in row.items() if v != ""}}
                data["train_mean_token_accuracy"] = data.pop("train_accuracy")
                message = f"Step {row['step']}/{TOTAL_STEPS}: training loss={row['train_loss']}"
                self._event(job_id, message, data=data)
        else:
            job.update(self._finish(job))
            self._event(job_id, f"New fine-tuned model created: {job['fine_tuned_model']}")
            self._event(job_id, "The job has successfully completed")
        return dict(job)

    def _finish(self, job: dict) -> dict:
        short = hashlib.sha256(job["id"].encode()).hexdigest()[:8]
        rows = _metric_rows(job["validation_file"] is not None)
        lines = [RESULT_HEADER] + [",".join(str(v) for v in r.values()) for r in rows]
        result = self._add_file("step_metrics.csv", "fine-tune-results", "\n".join(lines).encode())
        training = len(self.files[job["training_file"]]["content"])
        return {
            "fine_tuned_model": f"ft:{job['model']}:{ORG}:{job['suffix'] or ''}:{short}",
            "trained_tokens": max(1, training // 4) * job["hyperparameters"]["n_epochs"],
            "finished_at": int(time.time()),
            "estimated_finish": None,
            "result_files": [result],
        }

    def _cancel(self, job_id: str) -> Reply:
        job = self.jobs[job_id]
        if job["status"] in ("succeeded", "failed", "cancelled"):
            message = f"Job {job_id} has already {job['status']} and cannot be cancelled."
            return Reply(400, json_body=error_body(message))
        job.update(status="cancelled", finished_at=int(time.time()), estimated_finish=None)
        self._event(job_id, "Fine-tuning job cancelled")
        return Reply(json_body=dict(job))


def _completion_common(body: dict, n: int) -> dict:
    return {
        "id": f"chatcmpl-{n}",
        "created": int(time.time()),
        "model": body.get("model"),
        "system_fingerprint": "fp_test",
        "service_tier": "default",
    }


def _usage(reply: Reply) -> dict:
    return {
        "prompt_tokens": reply.prompt_tokens,
        "completion_tokens": reply.completion_tokens,
        "total_tokens": reply.prompt_tokens + reply.completion_tokens,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": reply.reasoning_tokens,
            "audio_tokens": 0,
        },
    }


def _metric_rows(with_validation: bool) -> list[dict]:
    rows = []
    for step in range(1, TOTAL_STEPS + 1):
        loss = round(2.0 / (step + 1), 4)
        valid = (round(loss * 1.1, 4), round(1 - loss / 2.5, 4)) if with_validation else ("", "")
        rows.append(
            {
                "step": step,
                "train_loss": loss,
                "train_accuracy": round(1 - loss / 2, 4),
                "valid_loss": valid[0],
                "valid_mean_token_accuracy": valid[1],
            }
        )
    return rows


def _page(data: list[dict], query: dict) -> Reply:
    """A cursor page: all items after ``after``, up to ``limit`` if given (else all)."""
    after = (query.get("after") or [None])[0]
    if after is not None:
        ids = [d["id"] for d in data]
        data = data[ids.index(after) + 1 :] if after in ids else []
    limit = int((query.get("limit") or [len(data)])[0])
    body = {"object": "list", "data": data[:limit], "has_more": len(data) > limit}
    return Reply(json_body=body)


def _parse_multipart(raw: bytes, ctype: str) -> dict[str, tuple[str | None, bytes]]:
    """Form fields of a multipart/form-data body: name -> (filename, bytes), bytes kept exact."""
    header = Message()
    header["content-type"] = ctype
    boundary = header.get_boundary()
    if not boundary:
        return {}
    fields = {}
    for part in (b"\r\n" + raw).split(b"\r\n--" + boundary.encode())[1:]:
        if part.startswith(b"--"):
            break
        head, _, content = part.partition(b"\r\n\r\n")
        headers = BytesHeaderParser().parsebytes(head.split(b"\r\n", 1)[-1] + b"\r\n\r\n")
        name = headers.get_param("name", header="content-disposition")
        if isinstance(name, str):
            fields[name] = (headers.get_filename(), content)
    return fields


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128
    fake: FakeOpenAI

    def server_bind(self) -> None:
        # HTTPServer.server_bind calls getfqdn(), a DNS lookup that can hang without a network.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], OSError):  # client hung up: not worth a traceback
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, so the SDK's connection pool is exercised
    disable_nagle_algorithm = True  # headers and body go out in separate writes
    server: _Server

    def setup(self) -> None:
        super().setup()
        with self.server.fake._lock:
            self.server.fake._connections.add(self.connection)

    def finish(self) -> None:
        with self.server.fake._lock:
            self.server.fake._connections.discard(self.connection)
        with contextlib.suppress(OSError):
            super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("transfer-encoding", "").lower():
            chunks = []
            while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            while self.rfile.readline() not in (b"\r\n", b"\n", b""):  # trailers
                pass
            return b"".join(chunks)
        return self.rfile.read(int(self.headers.get("content-length") or 0))

    def _dispatch(self, method: str) -> None:
        fake = self.server.fake
        raw = self._read_body()
        url = urlsplit(self.path)
        ctype = self.headers.get("content-type", "")
        body = None
        if raw and "json" in ctype:
            try:
                body = json.loads(raw)
            except ValueError:
                body = None
        headers = {k.lower(): v for k, v in self.headers.items()}
        record = {"method": method, "path": url.path, "body": body, "headers": headers}
        record |= {"time": time.time(), "status": None}
        with fake._lock:
            fake.requests.append(record)
            request_id = f"req_{len(fake.requests)}"
        try:
            if (
                fake.api_key is not None
                and headers.get("authorization") != f"Bearer {fake.api_key}"
            ):
                reply = Reply(401, json_body=api_key_error(headers.get("authorization")))
            else:
                reply = fake._route(method, url.path, parse_qs(url.query), body, raw, ctype)
        except Exception as exc:
            fake.errors.append(exc)
            reply = Reply(
                500, text=f"test server error: {exc!r}", headers={"x-should-retry": "false"}
            )
        if reply is None:
            reply = Reply(404, text=f"Invalid URL ({method} {url.path})")
        with fake._lock:
            record["status"] = reply.status
        self._send(reply, request_id)

    def _send(self, reply: Reply, request_id: str) -> None:
        if reply.delay > 0:
            time.sleep(reply.delay)
        headers = {"content-type": "application/json", "x-request-id": request_id}
        if reply.raw_body is not None:
            payload = reply.raw_body
            headers["content-type"] = "text/plain; charset=utf-8"
        else:
            content = reply.json_body
            if content is None:
                phrase = self.responses.get(reply.status, ("Error",))[0]
                content = error_body(reply.text or phrase, reply.status)
            payload = json.dumps(content).encode()
        headers |= RATE_LIMIT_HEADERS | {k.lower(): v for k, v in reply.headers.items()}
        headers["content-length"] = str(len(payload))
        try:
            self.send_response(reply.status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)
        except OSError:  # the client gave up (timeout) or the server is stopping
            self.close_connection = True


class SilentServer:
    """A TCP endpoint on 127.0.0.1 that accepts connections, reads and never answers.

    For circuit-breaker and timeout tests: a client's request hangs until its read timeout.
    ``connections`` counts accepted connections, ``received`` the bytes read; ``stop()`` (or
    leaving the ``with`` block) closes everything::

        with SilentServer() as silent:
            OpenAI(base_url=silent.base_url, api_key="k", timeout=0.3, max_retries=0)
    """

    def __init__(self, port: int = 0) -> None:
        self.port = port
        self.connections = 0
        self.received = 0
        self._listener: socket.socket | None = None
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>/v1`` (available once started)."""
        if self._listener is None:
            raise RuntimeError("SilentServer is not running")
        return f"http://{HOST}:{self._listener.getsockname()[1]}/v1"

    def start(self) -> SilentServer:
        if self._listener is not None:
            raise RuntimeError("SilentServer is already running")
        self._listener = socket.create_server((HOST, self.port), backlog=128)
        self._listener.setblocking(False)
        self._stopping.clear()
        self._thread = threading.Thread(target=self._serve, args=(self._listener,), daemon=True)
        self._thread.start()
        return self

    def _serve(self, listener: socket.socket) -> None:
        with selectors.DefaultSelector() as selector:
            selector.register(listener, selectors.EVENT_READ)
            try:
                while not self._stopping.is_set():
                    for key, _ in selector.select(timeout=0.05):
                        sock = key.fileobj
                        assert isinstance(sock, socket.socket)
                        if sock is listener:
                            with contextlib.suppress(BlockingIOError):
                                conn, _ = listener.accept()
                                conn.setblocking(False)
                                selector.register(conn, selectors.EVENT_READ)
                                self.connections += 1
                            continue
                        try:
                            data = sock.recv(65536)
                        except (BlockingIOError, InterruptedError):
                            continue
                        except OSError:
                            data = b""
                        self.received += len(data)
                        if not data:  # the client hung up
                            selector.unregister(sock)
                            sock.close()
            finally:
                for key in list(selector.get_map().values()):
                    if key.fileobj is not listener:
                        with contextlib.suppress(OSError):
                            key.fileobj.close()  # type: ignore[union-attr]

    def stop(self) -> None:
        """Close the listening socket and every accepted connection."""
        if self._listener is None:
            return
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._listener.close()
        self._listener = self._thread = None

    def __enter__(self) -> SilentServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


_RESERVED_PORTS: list[socket.socket] = []


def closed_port() -> int:
    """A port on 127.0.0.1 where nothing listens: connecting to it is refused.

    The port stays bound (never listening) for the life of the process, so no other server
    in this process or elsewhere can be given it meanwhile.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind((HOST, 0))
    _RESERVED_PORTS.append(sock)
    return sock.getsockname()[1]


def __getattr__(name: str) -> Any:
    # ``from tests.openai_server import reasoning_model`` works; it is imported lazily because
    # tests.fake_reasoning imports Reply from here.
    if name == "reasoning_model":
        from tests.fake_reasoning import reasoning_model

        return reasoning_model
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main(argv: list[str] | None = None) -> None:
    """Serve until interrupted; print the base URL first (for benchmarks in other processes)."""
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to chat replies")
    parser.add_argument("--text", default="100", help="assistant reply to every chat request")
    parser.add_argument("--fail-jobs", action="store_true")
    parser.add_argument("--api-key", help="refuse requests without this key (401)")
    args = parser.parse_args(argv)
    reply = Reply(text=args.text)
    server = FakeOpenAI(
        lambda b, n: reply, args.latency, args.fail_jobs, args.port, api_key=args.api_key
    )
    with server:
        print(server.base_url, flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()


if __name__ == "__main__":
    main()
