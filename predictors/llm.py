"""Chat-model pricers through the official ``openai`` SDK: GPT-4o-mini, GPT-4o, fine-tuned models
and any OpenAI-compatible endpoint (Ollama, vLLM, ...). One class; one YAML per model.

Requests run concurrently under an adaptive limit (halved on 429s and retries, regrown slowly),
and every answered request is written to the response cache as it arrives, so an interrupted run
resumes on rerun without repeating an answered request.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np

from harness.aimd import AIMDLimiter
from harness.data import Item
from harness.errors import PricebenchError, first_line
from harness.predictor import Prediction
from harness.secrets import api_key_from_env
from predictors.prompts import (
    PREFILL,
    REMOVE,
    SYSTEM_PROMPT,
    USER_TEMPLATE,
    build_messages,
    parse_price,
)

DEFAULT_BASE_URL = "https://api.openai.com/v1"


class _CallFailed(Exception):
    """A request that still failed after the SDK's retries (counted, not fatal on its own)."""


class ChatPricer:
    """Asks a chat model for the price, the course's way: system prompt, the item's description,
    the assistant prefill ``Price is $``; then reads the first number of the reply."""

    requires_fit = False

    def __init__(
        self,
        model: str | None = "gpt-4o-mini",
        job_id: str | None = None,
        suffix: str | None = None,
        registry: str | None = None,
        base_url: str | None = None,
        api_key_env: str | None = "OPENAI_API_KEY",
        concurrency: int = 16,
        timeout: float = 30.0,
        max_retries: int = 2,
        temperature: float | None = None,
        seed: int | None = 42,
        max_tokens: int = 5,
        system_prompt: str = SYSTEM_PROMPT,
        user_template: str = USER_TEMPLATE,
        prefill: str | None = PREFILL,
        remove: Sequence[str] = REMOVE,
        on_unparseable: str = "zero",
        input_price: float = 0.0,
        output_price: float = 0.0,
        cache_dir: str | None = None,
        cache_enabled: bool = True,
    ) -> None:
        self.model = model
        self.job_id = job_id
        self.suffix = suffix
        self.registry = registry
        self.base_url = base_url
        self.api_key_env = api_key_env
        self.concurrency = concurrency
        self.timeout = timeout
        self.max_retries = max_retries
        self.temperature = temperature
        self.seed = seed
        self.max_tokens = max_tokens
        self.system_prompt = system_prompt
        self.user_template = user_template
        self.prefill = prefill
        self.remove = remove
        self.on_unparseable = on_unparseable
        self.input_price = input_price
        self.output_price = output_price
        self.cache_dir = cache_dir
        self.cache_enabled = cache_enabled

    # --- configuration checks and the pure parts ---------------------------------------------

    def fit(self, train_items: Sequence[Item]) -> ChatPricer:
        return self

    @property
    def resolved_base_url(self) -> str:
        return (self.base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")

    def _check(self) -> None:
        if self.on_unparseable not in ("zero", "fail"):
            raise PricebenchError(
                f"predictor.on_unparseable must be zero or fail, not {self.on_unparseable!r}"
            )
        if not self.model and not self.job_id and not self.suffix:
            raise PricebenchError(
                "set predictor.model=NAME, predictor.job_id=ftjob-... or predictor.suffix=SUFFIX"
            )
        if int(self.concurrency) < 1:
            raise PricebenchError(
                f"predictor.concurrency must be at least 1, not {self.concurrency}"
            )

    def request_body(self, item: Item, model: str) -> dict[str, Any]:
        """The chat completion request for one item (also the response cache's key)."""
        body: dict[str, Any] = {
            "model": model,
            "messages": build_messages(
                item, self.system_prompt, self.user_template, self.prefill, self.remove
            ),
            "max_tokens": self.max_tokens,
        }
        if self.seed is not None:
            body["seed"] = self.seed
        if self.temperature is not None:
            body["temperature"] = self.temperature
        return body

    def cost(self, input_tokens: int, output_tokens: int) -> float:
        return (input_tokens * self.input_price + output_tokens * self.output_price) / 1e6

    def _client(self) -> Any:
        if getattr(self, "client_", None) is None:
            from openai import AsyncOpenAI

            self.client_ = AsyncOpenAI(
                api_key=api_key_from_env(self.api_key_env),
                base_url=self.resolved_base_url,
                timeout=self.timeout,
                max_retries=self.max_retries,
            )
        return self.client_

    # --- running -----------------------------------------------------------------------------

    def predict(self, items: Sequence[Item]) -> list[Prediction]:
        slots: list[Prediction | None] = [None] * len(items)
        for position, prediction in self.predict_iter(items):
            slots[position] = prediction
        return [p for p in slots if p is not None]

    def predict_iter(self, items: Sequence[Item]) -> Iterator[tuple[int, Prediction]]:
        """(position, Prediction) pairs as the replies arrive, cached ones first."""
        from harness.cache import ResponseCache

        self._check()
        self.cache_ = ResponseCache(self.cache_dir or "~/.cache/pricebench", self.cache_enabled)
        self.limiter_ = AIMDLimiter(int(self.concurrency))
        self.stats_: dict[str, Any] = {
            "requests": 0, "cache_hits": 0, "retries": 0, "failed": 0, "unparseable": 0,
            "input_tokens": 0, "output_tokens": 0, "cost": 0.0, "cost_fresh": 0.0,
        }  # fmt: skip
        self.latencies_: list[float] = []
        self.client_ = None
        failures: list[tuple[int, str]] = []
        unreadable: list[tuple[int, str]] = []
        loop = asyncio.new_event_loop()
        tasks: list[asyncio.Task[None]] = []
        try:
            model = self.model_ = loop.run_until_complete(self._model())
            finished: asyncio.Queue[tuple[int, Prediction | BaseException]] = asyncio.Queue()

            async def one(position: int, item: Item) -> None:
                try:
                    finished.put_nowait((position, await self._one(position, item, model)))
                except Exception as exc:
                    finished.put_nowait((position, exc))

            tasks = [loop.create_task(one(i, item)) for i, item in enumerate(items)]
            for _ in items:
                position, outcome = loop.run_until_complete(finished.get())
                if isinstance(outcome, _CallFailed):
                    failures.append((position, str(outcome)))
                    continue
                if isinstance(outcome, BaseException):
                    raise outcome
                if outcome.extra.get("unparseable"):
                    unreadable.append((position, outcome.raw or ""))
                yield position, outcome
        finally:
            for task in tasks:
                task.cancel()
            if tasks:
                loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
            if self.client_ is not None:
                loop.run_until_complete(self.client_.close())
            loop.close()
            self.cache_.close()
        self._raise_for(failures, unreadable, len(items))

    def _raise_for(self, failures: list[tuple[int, str]], unreadable: list[tuple[int, str]],
                   n: int) -> None:  # fmt: skip
        if failures:
            position, why = min(failures)
            raise PricebenchError(
                f"{len(failures)} of {n} requests failed after {self.max_retries} retries "
                f"(first: item {position}: {why}); answered requests are cached, so a rerun "
                "repeats only the failed ones"
            )
        if unreadable and self.on_unparseable == "fail":
            position, raw = min(unreadable)
            raise PricebenchError(
                f"{len(unreadable)} of {n} replies hold no price (first: item {position}: "
                f"{raw[:60]!r}); set predictor.on_unparseable=zero to score them as $0"
            )

    async def _model(self) -> str:
        """The model to ask: ``model``, else the fine-tuned model of ``job_id``, else of the newest
        job registered with ``suffix`` by ``pricebench-finetune``."""
        job_id = self.job_id
        if not job_id and self.suffix:
            from predictors.finetune_jobs import find_job

            record = find_job(self.registry or "results/finetunes.jsonl", self.suffix)
            if record.get("status") == "succeeded" and record.get("model"):
                return str(record["model"])
            job_id = record["job_id"]
        if not job_id:
            return str(self.model)
        import openai

        try:
            job = await self._client().fine_tuning.jobs.retrieve(job_id)
        except openai.NotFoundError:
            raise PricebenchError(
                f"no fine-tuning job {job_id} at {self.resolved_base_url}"
            ) from None
        except openai.APIError as exc:
            raise PricebenchError(f"could not look up job {job_id}: {first_line(exc)}") from None
        if job.status != "succeeded" or not job.fine_tuned_model:
            raise PricebenchError(
                f"fine-tuning job {job_id} is {job.status}, not succeeded; follow it with "
                f"`pricebench-finetune stage=follow job_id={job_id}` and evaluate it when done"
            )
        return job.fine_tuned_model

    async def _one(self, position: int, item: Item, model: str) -> Prediction:
        from harness.cache import ResponseCache

        body = self.request_body(item, model)
        key = ResponseCache.key(self.resolved_base_url, model, body)
        entry = self.cache_.get(key)
        cached = entry is not None
        if entry is None:
            async with self.limiter_.slot():
                entry = await self._call(body)
                self.cache_.put(key, entry)  # before the slot frees: nothing answered is lost
        else:
            self.stats_["cache_hits"] += 1
        self.stats_["input_tokens"] += entry["input_tokens"]
        self.stats_["output_tokens"] += entry["output_tokens"]
        self.stats_["cost_fresh"] += entry["cost"]
        if not cached:
            self.stats_["cost"] += entry["cost"]
        guess = parse_price(entry["text"])
        if guess is None:
            self.stats_["unparseable"] += 1
        extra: dict[str, Any] = {"cached": cached, "retries": 0 if cached else entry["retries"]}
        if guess is None:
            extra["unparseable"] = True
        return Prediction(
            guess=0.0 if guess is None else guess,
            raw=entry["text"],
            input_tokens=entry["input_tokens"],
            output_tokens=entry["output_tokens"],
            cost=entry["cost"],
            latency=entry["latency"],
            extra=extra,
        )

    async def _call(self, body: dict[str, Any]) -> dict[str, Any]:
        import openai
        from openai.types.chat import ChatCompletion

        started = time.perf_counter()
        try:
            # The SDK's documented low-level `post`, asking for the raw response the way its own
            # `with_raw_response` does: the body is plain JSON already, and skipping the typed
            # `create()` saves ~1.7 ms of CPU a request, which limits throughput at concurrency 32.
            raw = await self._client().post(
                "/chat/completions",
                body=body,
                cast_to=ChatCompletion,
                options={"headers": {"X-Stainless-Raw-Response": "true"}},
            )
            completion = raw.parse()
            choice = completion.choices[0]
            text = choice.message.content or ""
        except openai.RateLimitError as exc:
            self._failed(congested=True)
            raise _CallFailed(f"rate limited: {first_line(exc)}") from None
        except (openai.AuthenticationError, openai.PermissionDeniedError) as exc:
            raise PricebenchError(
                f"{self.resolved_base_url} refused the API key in {self.api_key_env} "
                f"({first_line(exc)}); check the key"
            ) from None
        except (openai.NotFoundError, openai.BadRequestError) as exc:
            raise PricebenchError(
                f"{self.resolved_base_url} rejected the request for model {body['model']!r} "
                f"({first_line(exc)}); check predictor.model and predictor.base_url"
            ) from None
        except (openai.APIError, AttributeError, IndexError, TypeError, ValueError) as exc:
            self._failed(congested=False)
            raise _CallFailed(first_line(exc)) from None
        latency = time.perf_counter() - started
        self.limiter_.record(congested=raw.retries_taken > 0)
        self.stats_["requests"] += 1
        self.stats_["retries"] += raw.retries_taken
        self.latencies_.append(latency)
        usage = completion.usage
        input_tokens = int(getattr(usage, "prompt_tokens", 0) or 0)
        output_tokens = int(getattr(usage, "completion_tokens", 0) or 0)
        return {
            "text": text,
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "cost": self.cost(input_tokens, output_tokens),
            "latency": latency,
            "retries": raw.retries_taken,
            "model": getattr(completion, "model", body["model"]),
            "system_fingerprint": getattr(completion, "system_fingerprint", None),
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }

    def _failed(self, congested: bool) -> None:
        self.stats_["requests"] += 1
        self.stats_["failed"] += 1
        self.stats_["retries"] += self.max_retries
        self.limiter_.record(congested=congested)

    def run_summary(self) -> dict[str, Any]:
        """Requests made, cache hits, retries, failures, unparseable replies, tokens, this run's
        cost and a fresh run's, latency percentiles and the final concurrency."""
        summary: dict[str, Any] = {"model": getattr(self, "model_", self.model)}
        summary.update(getattr(self, "stats_", {}))
        latencies = getattr(self, "latencies_", [])
        summary["latency_p50"] = float(np.percentile(latencies, 50)) if latencies else None
        summary["latency_p95"] = float(np.percentile(latencies, 95)) if latencies else None
        limiter = getattr(self, "limiter_", None)
        summary["concurrency_final"] = limiter.current if limiter else None
        summary["concurrency_backoffs"] = limiter.backoffs if limiter else 0
        return summary
