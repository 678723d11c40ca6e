"""Chat-model pricers through the official ``openai`` SDK: OpenAI's models (classic chat models,
GPT-5-family and o-series reasoning models), fine-tuned models and any OpenAI-compatible endpoint
(Anthropic, Gemini, xAI, DeepSeek, OpenRouter, Azure, Ollama, vLLM, ...). One class; one YAML each.

Requests fit the model (``predictors.model_families``, adapted once when a server refuses a
parameter), run concurrently under an adaptive limit, and every answer is written to the response
cache as it arrives, so an interrupted run resumes on rerun without repeating a paid request.
``batch=true`` sends them through the Batch API instead (``predictors.llm_batch``); ``max_cost``
stops a run whose estimate is too high before its first request (``predictors.cost_guard``).
"""

from __future__ import annotations

import asyncio
import gc
import inspect
import os
import time
import warnings
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np

from harness.aimd import AIMDLimiter
from harness.data import Item
from harness.errors import PricebenchError, first_line
from harness.predictor import Prediction, PredictorBase
from harness.secrets import api_key_from_env
from predictors import cost_guard
from predictors.llm_transport import CallFailed, NotACompletion, Refused, Watch, console, send
from predictors.model_families import adaptation, describe, omitted, request_params
from predictors.prompts import (
    PREFILL,
    REMOVE,
    SYSTEM_PROMPT,
    USER_TEMPLATE,
    Parse,
    build_messages,
    parse_price,
)

DEFAULT_BASE_URL = "https://api.openai.com/v1"
EARLY_CUT_OFF = 3  # this many first replies all cut off by the budget: the budget is too small
EARLY_UNREADABLE = 3  # this many first replies none of them a chat completion: the wrong endpoint
# What the response cache must hold for an entry to be used, with the types each must have.
ENTRY_FIELDS: dict[str, type | tuple[type, ...]] = {
    "text": str, "input_tokens": int, "output_tokens": int, "cost": (int, float),
}  # fmt: skip
SETTING_OF = {  # a refused request parameter -> the config key behind it
    "max_tokens": "max_tokens", "max_completion_tokens": "max_tokens",
    "reasoning_effort": "reasoning_effort", "temperature": "temperature", "seed": "seed",
}  # fmt: skip


class ChatPricer(PredictorBase):
    """Asks a chat model for the price, the course's way: system prompt, the item's description,
    the assistant prefill ``Price is $``; then reads the reply as ``parse`` says (``course``:
    the course's ``get_price``; ``lenient``: signs and ``k``/``thousand`` too)."""

    requires_fit = False

    def __init__(
        self,
        model: str | None = "gpt-4o-mini",
        job_id: str | None = None,
        suffix: str | None = None,
        registry: str | None = None,
        base_url: str | None = None,
        api_key_env: str | None = "OPENAI_API_KEY",
        endpoint_env: str | None = None,
        endpoint_path: str = "",
        concurrency: int = 16,
        timeout: float = 30.0,
        max_retries: int = 2,
        circuit_breaker: int = 3,
        rate_limit_wait: float = 120.0,
        temperature: float | None = None,
        seed: int | None = 42,
        max_tokens: int = 5,
        reasoning_effort: str | None = None,
        system_prompt: str = SYSTEM_PROMPT,
        user_template: str = USER_TEMPLATE,
        prefill: str | None = PREFILL,
        remove: Sequence[str] = REMOVE,
        on_unparseable: Literal["zero", "fail"] = "zero",
        parse: Parse = "course",
        input_price: float = 0.0,
        output_price: float = 0.0,
        max_cost: float | None = None,
        batch: bool = False,
        batch_api: bool = True,
        batch_price_factor: float = 0.5,
        batch_poll_seconds: float = 30.0,
        batch_endpoint: str = "/v1/chat/completions",
        cache_dir: str | None = None,
        cache_enabled: bool = True,
        quiet: bool = False,
    ) -> None:
        self.model = model
        self.job_id = job_id
        self.suffix = suffix
        self.registry = registry
        self.base_url = base_url
        self.api_key_env = api_key_env
        self.endpoint_env = endpoint_env
        self.endpoint_path = endpoint_path
        self.concurrency = concurrency
        self.timeout = timeout
        self.max_retries = max_retries
        self.circuit_breaker = circuit_breaker
        self.rate_limit_wait = rate_limit_wait
        self.temperature = temperature
        self.seed = seed
        self.max_tokens = max_tokens
        self.reasoning_effort = reasoning_effort
        self.system_prompt = system_prompt
        self.user_template = user_template
        self.prefill = prefill
        self.remove = remove
        self.on_unparseable = on_unparseable
        self.parse = parse
        self.input_price = input_price
        self.output_price = output_price
        self.max_cost = max_cost
        self.batch = batch
        self.batch_api = batch_api
        self.batch_price_factor = batch_price_factor
        self.batch_poll_seconds = batch_poll_seconds
        self.batch_endpoint = batch_endpoint
        self.cache_dir = cache_dir
        self.cache_enabled = cache_enabled
        self.quiet = quiet

    # --- configuration checks and the pure parts ---------------------------------------------

    def fit(self, train_items: Sequence[Item]) -> ChatPricer:
        return self

    @property
    def resolved_base_url(self) -> str:
        """``base_url``; else the endpoint in ``endpoint_env`` (Azure) plus ``endpoint_path``;
        else ``OPENAI_BASE_URL``; else the OpenAI API."""
        if self.base_url:
            return self.base_url.rstrip("/")
        if self.endpoint_env:
            endpoint = (os.environ.get(self.endpoint_env) or "").strip().rstrip("/")
            if not endpoint:
                raise PricebenchError(
                    f"{self.endpoint_env} is not set: export {self.endpoint_env}=https://"
                    "RESOURCE.openai.azure.com (your resource's endpoint), or set "
                    "predictor.base_url"
                )
            path = self.endpoint_path.rstrip("/")
            return endpoint if not path or endpoint.endswith(path) else endpoint + path
        return (os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")

    def _check(self) -> None:
        """The settings' types and ranges (as a config's are checked when composed, for a
        predictor built in Python), then what they must hold together."""
        from harness.config_check import check_settings

        names = [n for n in inspect.signature(ChatPricer.__init__).parameters if n != "self"]
        check_settings(ChatPricer, {n: getattr(self, n) for n in names})
        if not self.model and not self.job_id and not self.suffix:
            raise PricebenchError(
                "set predictor.model=NAME, predictor.job_id=ftjob-... or predictor.suffix=SUFFIX"
            )

    def request_body(self, item: Item, model: str) -> dict[str, Any]:
        """The chat completion request for one item (also the response cache's key), with the
        parameters ``model`` takes (and those servers refused this run, adapted)."""
        body: dict[str, Any] = {
            "model": model,
            "messages": build_messages(
                item, self.system_prompt, self.user_template, self.prefill, self.remove
            ),
        }
        body.update(
            request_params(
                model,
                max_tokens=int(self.max_tokens),
                temperature=self.temperature,
                seed=self.seed,
                reasoning_effort=self.reasoning_effort,
                adapted=getattr(self, "adapted_", None),
            )
        )
        return body

    def cost(self, input_tokens: int, output_tokens: int, factor: float = 1.0) -> float:
        return (input_tokens * self.input_price + output_tokens * self.output_price) / 1e6 * factor

    @property
    def priced(self) -> bool:
        return bool(self.input_price or self.output_price)

    def _client(self) -> Any:
        if getattr(self, "client_", None) is None:
            from openai import AsyncOpenAI

            self.client_: Any = AsyncOpenAI(
                api_key=api_key_from_env(self.api_key_env),
                base_url=self.resolved_base_url,
                timeout=self.timeout,
                max_retries=0,  # predictors.llm_transport.send retries, visibly
            )
        return self.client_

    def _say(self, message: str) -> None:
        console(message)

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
            "cut_off": 0, "refused_params": 0, "input_tokens": 0, "output_tokens": 0,
            "reasoning_tokens": 0, "cost": 0.0, "cost_fresh": 0.0, "cost_estimate": None,
            "batches": 0, "batch_polls": 0,
        }  # fmt: skip
        self.adapted_: dict[str, str | None] = {}
        self.latencies_: list[float] = []
        self.fresh_: set[str] = set()  # answered by this run's batch
        self.known_: dict[str, dict[str, Any]] = {}  # cache entries read before the requests
        self.batch_failures_: dict[str, str] = {}
        self.halted_ = False
        self.client_ = None
        self.watch_ = Watch(
            self.resolved_base_url, self.api_key_env, float(self.timeout),
            int(self.max_retries), int(self.circuit_breaker), float(self.rate_limit_wait),
            bool(self.quiet), self._say, concurrency=lambda: self.limiter_.current,
        )  # fmt: skip
        failures: list[tuple[int, str, int]] = []
        not_completions: list[tuple[int, str]] = []
        unreadable: list[tuple[int, str]] = []
        loop = asyncio.new_event_loop()
        try:
            model = self.model_ = loop.run_until_complete(self._model())
            self._guard_cost(items, model)
            if self.batch:
                loop.run_until_complete(self._batch(items, model))
            finished: asyncio.Queue[tuple[int, Prediction | BaseException]] = asyncio.Queue()

            replies = {"completions": 0, "not": 0}

            async def one(position: int, item: Item) -> None:
                try:
                    prediction = await self._one(position, item, model)
                    replies["completions"] += 1
                    finished.put_nowait((position, prediction))
                except Exception as exc:
                    replies["not"] += isinstance(exc, NotACompletion)
                    early = not replies["completions"] and replies["not"] >= EARLY_UNREADABLE
                    if isinstance(exc, PricebenchError) or early:
                        self.halted_ = True  # the run stops: send nothing more meanwhile
                    finished.put_nowait((position, exc))

            async def watch() -> None:
                try:
                    await self.watch_.tick()
                except PricebenchError as exc:
                    finished.put_nowait((-1, exc))

            # held here: the loop keeps only weak references to its tasks
            self.tasks_ = [loop.create_task(one(i, item)) for i, item in enumerate(items)]
            self.tasks_.append(loop.create_task(watch()))
            answered = cut_off = 0
            for _ in items:
                position, outcome = loop.run_until_complete(finished.get())
                if isinstance(outcome, NotACompletion):
                    not_completions.append((position, str(outcome)))
                    if not answered and len(not_completions) == EARLY_UNREADABLE:
                        raise PricebenchError(self._not_completions(not_completions, early=True))
                    continue
                if isinstance(outcome, CallFailed):
                    failures.append((position, str(outcome), outcome.retries))
                    continue
                if isinstance(outcome, BaseException):
                    raise outcome
                answered += 1
                if outcome.extra.get("unparseable"):
                    unreadable.append((position, outcome.raw or ""))
                    cut_off += bool(outcome.extra.get("cut_off"))
                if answered == min(EARLY_CUT_OFF, len(items)) and cut_off == answered:
                    raise PricebenchError(self._cut_off_message(answered, early=True))
                yield position, outcome
        finally:
            self.halted_ = True
            try:
                _close_loop(loop, self.client_)
            finally:
                for task in getattr(self, "tasks_", []):  # one Ctrl-C ended holds it: taken
                    if task.done() and not task.cancelled():
                        task.exception()
                self.tasks_ = []
                self.cache_.close()
        self._raise_for(failures, not_completions, unreadable, len(items))

    def _cut_off_message(self, n: int, early: bool) -> str:
        which = f"the first {n} replies were all" if early else f"{n} replies were"
        effort = self.reasoning_effort or "null: the lowest"
        reasoning = self.stats_["reasoning_tokens"]
        spent = f", {reasoning} tokens spent on reasoning so far" if reasoning else ""
        return (
            f"{which} cut off by the token budget before any price (finish_reason 'length'"
            f"{spent}): raise predictor.max_tokens (now {self.max_tokens}) or lower "
            f"predictor.reasoning_effort (now {effort})"
        )

    def _not_completions(
        self, found: list[tuple[int, str]], n: int = 0, early: bool = False
    ) -> str:
        """What to say when replies were not chat completions: the endpoint is not one."""
        position, why = min(found)
        which = (
            f"the first {len(found)} replies were not chat completions"
            if early
            else f"{len(found)} of {n} requests were answered with something that is not a chat "
            "completion"
        )
        return (
            f"{which} (first: item {position}: {why}); check predictor.base_url "
            f"({self.resolved_base_url}): it must be an OpenAI-compatible endpoint, which most "
            "end in /v1"
        )

    def _raise_for(self, failures: list[tuple[int, str, int]],
                   not_completions: list[tuple[int, str]], unreadable: list[tuple[int, str]],
                   n: int) -> None:  # fmt: skip
        if not_completions:
            raise PricebenchError(self._not_completions(not_completions, n))
        if failures:
            position, why, retries = min(failures)
            tries = f"after {retries} {'retry' if retries == 1 else 'retries'}"
            raise PricebenchError(
                f"{len(failures)} of {n} requests failed (first: item {position}, "
                f"{tries if retries else 'not retried'}: {why}); answered requests are cached, "
                "so a rerun repeats only the failed ones"
            )
        if unreadable and self.on_unparseable == "fail":
            position, raw = min(unreadable)
            cut = self.stats_["cut_off"]
            budget = f"; {self._cut_off_message(cut, early=False)}" if cut else ""
            raise PricebenchError(
                f"{len(unreadable)} of {n} replies hold no price (first: item {position}: "
                f"{raw[:60]!r}); set predictor.on_unparseable=zero to score them as $0{budget}"
            )

    def _pending(self, items: Sequence[Item], model: str) -> dict[str, dict[str, Any]]:
        """The requests not in the cache yet, by cache key (each request once)."""
        from harness.cache import ResponseCache

        pending: dict[str, dict[str, Any]] = {}
        for item in items:
            body = self.request_body(item, model)
            key = ResponseCache.key(self.resolved_base_url, model, body)
            if key in pending or key in self.known_:
                continue
            entry = self._cached(key)
            if entry is None:
                pending[key] = body
            else:
                self.known_[key] = entry  # read once: the items' own lookups take it from here
        return pending

    def _cached(self, key: str) -> dict[str, Any] | None:
        """The cache's entry for ``key`` if it holds what a prediction needs; an entry that does
        not (not JSON, fields missing or of the wrong type) is noted and taken as absent, so its
        request is sent again and its row overwritten."""
        entry = self.cache_.get(key)
        if entry is None:
            return None
        missing = [name for name in ENTRY_FIELDS if name not in entry]
        if missing:
            self.cache_.note_unreadable(key, f"lacks {', '.join(missing)}")
            return None
        for name, kind in ENTRY_FIELDS.items():
            value = entry[name]
            if isinstance(value, bool) or not isinstance(value, kind):
                what = "text" if kind is str else "a number"
                self.cache_.note_unreadable(key, f"{name} is not {what}: {value!r:.40}")
                return None
        return entry

    def _warn_unreadable(self) -> None:
        """One warning line for the cache entries that could not be read, once a run."""
        found = self.cache_.unreadable
        if not found or getattr(self, "warned_unreadable_", False):
            return
        self.warned_unreadable_ = True
        n = len(found)
        rows = "stored reply" if n == 1 else "stored replies"
        requests = "its request is" if n == 1 else "their requests are"
        reply = "the reply" if n == 1 else "the replies"
        self._say(
            f"warning: {n} {rows} in the response cache {self.cache_.path} cannot be read "
            f"(first: {next(iter(found.values()))}); {requests} sent again and {reply} stored "
            "anew"
        )

    def _guard_cost(self, items: Sequence[Item], model: str) -> None:
        """Estimate what the requests not in the cache will cost; stop above ``max_cost``."""
        pending = self._pending(items, model)
        self._warn_unreadable()
        factor = float(self.batch_price_factor) if self.batch else 1.0
        found = cost_guard.estimate(pending.values(), self.input_price, self.output_price, factor)
        self.estimate_ = found
        self.stats_["cost_estimate"] = found.cost
        cost_guard.check(found, self.max_cost, bool(self.batch))

    async def _model(self) -> str:
        """The model to ask: ``model``, else the fine-tuned model of ``job_id``, else of the newest
        job registered with ``suffix`` by ``pricebench-finetune``."""
        job_id = self.job_id
        if not job_id and self.suffix:
            from harness.registry import find_job

            registry = Path(self.registry or "results/finetunes.jsonl")
            if registry.is_dir():
                raise PricebenchError(
                    f"predictor.registry {registry} is a folder: give the registry file "
                    "pricebench-finetune writes (results.dir's finetunes.jsonl)"
                )
            record = find_job(registry, self.suffix)
            if record.get("status") == "succeeded" and record.get("model"):
                return str(record["model"])
            job_id = str(record["job_id"])
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

    async def _batch(self, items: Sequence[Item], model: str) -> None:
        """Answer every request not in the cache through the Batch API (one batch; another only
        when the first's lines were refused for a parameter adapted since)."""
        from predictors.llm_batch import run_batch

        if not self.batch_api:
            raise PricebenchError(
                f"{self.resolved_base_url} has no OpenAI-compatible Batch API (batch_api: false "
                "in this predictor's config); set predictor.batch=false"
            )
        if not self.cache_.enabled:
            raise PricebenchError(
                "predictor.batch=true keeps the batch's answers in the response cache: set "
                "cache.enabled=true"
            )
        for _ in range(3):
            pending = self._pending(items, model)
            if not pending:
                return
            result = await run_batch(
                self._client(), list(pending.items()), self.cache_, self.resolved_base_url,
                float(self.batch_poll_seconds), self._say, self.batch_endpoint,
            )  # fmt: skip
            self.stats_["batches"] += 1
            self.stats_["batch_polls"] += result.polls
            self.batch_id_ = result.batch_id
            for key, completion in result.answers.items():
                factor = float(self.batch_price_factor)
                try:
                    parsed = _parse_completion(completion)
                    entry = self._entry(parsed, pending[key], None, 0, factor, result.batch_id)
                except (AttributeError, IndexError, TypeError, ValueError) as exc:
                    result.failures[key] = first_line(exc)
                    continue
                self.cache_.put(key, entry)
                self.fresh_.add(key)
                self.stats_["requests"] += 1
            if result.error:
                raise PricebenchError(result.error)
            adapted = False
            for key, error in result.refused.items():
                refused = Refused(_ErrorLike(error))
                before = dict(self.adapted_)
                self._adapt(refused, pending[key])
                adapted = adapted or self.adapted_ != before
                result.failures.pop(key, None)
            self.batch_failures_.update(result.failures)
            if not adapted:
                return

    async def _one(self, position: int, item: Item, model: str) -> Prediction:
        from harness.cache import ResponseCache

        for _ in range(8):
            version = len(self.adapted_)
            body = self.request_body(item, model)
            key = ResponseCache.key(self.resolved_base_url, model, body)
            if key in self.batch_failures_:
                self.stats_["failed"] += 1
                raise CallFailed(f"in batch {self.batch_id_}: {self.batch_failures_[key]}", 0)
            entry = self.known_.pop(key, None) or self._cached(key)
            fresh = key in self.fresh_
            if entry is None:
                try:
                    async with self.limiter_.slot():
                        if self.halted_:
                            raise asyncio.CancelledError
                        if version != len(self.adapted_):
                            continue  # adapted while this request waited: build it anew
                        entry = await self._call(body, position)
                        self.cache_.put(key, entry)  # before the slot frees: nothing is lost
                except Refused as refused:
                    self._adapt(refused, body)
                    continue
                fresh = True
            return self._prediction(entry, fresh)
        raise PricebenchError(
            f"{self.resolved_base_url} kept refusing the request's parameters for {model} "
            f"(adapted so far: {', '.join(describe(*a) for a in self.adapted_.items())})"
        )

    def _adapt(self, refused: Refused, body: dict[str, Any]) -> None:
        """Fix the parameter a server refused, for the rest of the run, or stop in one line."""
        self.stats_["refused_params"] += 1
        fix = adaptation(refused.code, refused.param, refused.message, body, self.reasoning_effort)
        if fix is None or (fix[0] in self.adapted_ and self.adapted_[fix[0]] != fix[1]):
            setting = SETTING_OF.get(str(refused.param), str(refused.param))
            raise PricebenchError(
                f"{self.resolved_base_url} refused {refused.param!r} for {body['model']} "
                f"({refused.message.splitlines()[0][:200]}); change predictor.{setting}"
            )
        param, replacement = fix
        if self.adapted_.get(param, "unset") == replacement:
            return  # another request adapted it already
        self.adapted_[param] = replacement
        if not self.quiet:
            then = f"leaving {param} out" if replacement is None else f"sending {describe(*fix)}"
            self._say(
                f"{body['model']} does not take {param} ({refused.message.splitlines()[0]}); "
                f"{then} for the rest of the run"
            )

    def _prediction(self, entry: dict[str, Any], fresh: bool) -> Prediction:
        cached = not fresh
        if cached:
            self.stats_["cache_hits"] += 1
        self.stats_["input_tokens"] += entry["input_tokens"]
        self.stats_["output_tokens"] += entry["output_tokens"]
        self.stats_["reasoning_tokens"] += int(entry.get("reasoning_tokens") or 0)
        self.stats_["cost_fresh"] += entry["cost"]
        if not cached:
            self.stats_["cost"] += entry["cost"]
        guess = parse_price(entry["text"], self.parse)
        extra: dict[str, Any] = {"cached": cached, "retries": 0 if cached else entry["retries"]}
        if guess is None:
            self.stats_["unparseable"] += 1
            extra["unparseable"] = True
            if entry.get("finish_reason") == "length":
                self.stats_["cut_off"] += 1
                extra["cut_off"] = True
        if entry.get("batch_id"):
            extra["batch_id"] = entry["batch_id"]
        return Prediction(
            guess=0.0 if guess is None else guess,
            raw=entry["text"],
            input_tokens=entry["input_tokens"],
            output_tokens=entry["output_tokens"],
            cost=entry["cost"],
            latency=entry.get("latency"),
            extra=extra,
        )

    async def _call(self, body: dict[str, Any], position: int) -> dict[str, Any]:
        import openai
        from openai.types.chat import ChatCompletion

        def post() -> Any:
            # The SDK's documented low-level `post`, asking for the raw response the way its own
            # `with_raw_response` does: the body is plain JSON already, and skipping the typed
            # `create()` saves ~1.7 ms of CPU a request, which limits throughput at concurrency 32.
            return self._client().post(
                "/chat/completions",
                body=body,
                cast_to=ChatCompletion,
                options={"headers": {"X-Stainless-Raw-Response": "true"}},
            )

        started = time.perf_counter()
        try:
            raw, retries = await send(post, self.watch_, self.limiter_.record, f"item {position}")
        except CallFailed as exc:
            self._count_failure(exc.retries, congested=False)
            raise
        try:
            entry = self._entry(raw.parse(), body, None, retries)
        except (openai.APIError, AttributeError, IndexError, TypeError, ValueError) as exc:
            self._count_failure(retries, congested=False)
            raise NotACompletion(_what_came(raw, exc), retries) from None
        latency = entry["latency"] = time.perf_counter() - started
        self.limiter_.record(congested=retries > 0)
        self.stats_["requests"] += 1
        self.stats_["retries"] += retries
        self.latencies_.append(latency)
        return entry

    def _entry(self, completion: Any, body: dict[str, Any], latency: float | None, retries: int,
               factor: float = 1.0, batch_id: str | None = None) -> dict[str, Any]:  # fmt: skip
        """What the cache keeps of one answer: text, why it ended, tokens, cost, provenance."""
        choice = completion.choices[0]
        usage = completion.usage
        details = getattr(usage, "completion_tokens_details", None)
        input_tokens = int(getattr(usage, "prompt_tokens", 0) or 0)
        output_tokens = int(getattr(usage, "completion_tokens", 0) or 0)
        entry = {
            "text": choice.message.content or "",
            "finish_reason": choice.finish_reason,
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "reasoning_tokens": int(getattr(details, "reasoning_tokens", 0) or 0),
            "cost": self.cost(input_tokens, output_tokens, factor),
            "latency": latency,
            "retries": retries,
            "model": getattr(completion, "model", body["model"]),
            "system_fingerprint": getattr(completion, "system_fingerprint", None),
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        if batch_id:
            entry["batch_id"] = batch_id
        return entry

    def _count_failure(self, retries: int, congested: bool) -> None:
        self.stats_["requests"] += 1
        self.stats_["failed"] += 1
        self.stats_["retries"] += retries
        self.limiter_.record(congested=congested)

    def run_summary(self) -> dict[str, Any]:
        """Requests made, cache hits, retries, failures, unparseable and cut-off replies, refused
        and adapted parameters, tokens, the estimate, this run's cost and a fresh run's, latency
        percentiles and the final concurrency."""
        summary: dict[str, Any] = {"model": getattr(self, "model_", self.model)}
        summary.update(getattr(self, "stats_", {}))
        summary["adapted"] = [describe(*a) for a in getattr(self, "adapted_", {}).items()]
        summary["batch"] = bool(self.batch)
        if getattr(self, "batch_id_", None):
            summary["batch_id"] = self.batch_id_
        latencies = getattr(self, "latencies_", [])
        summary["latency_p50"] = float(np.percentile(latencies, 50)) if latencies else None
        summary["latency_p95"] = float(np.percentile(latencies, 95)) if latencies else None
        limiter = getattr(self, "limiter_", None)
        summary["concurrency_final"] = limiter.current if limiter else None
        summary["concurrency_backoffs"] = limiter.backoffs if limiter else 0
        return summary

    def notes(self) -> list[str]:
        """What a reader of the summary line should know about this run's requests."""
        stats = getattr(self, "stats_", None)
        if stats is None:
            return []
        notes = []
        model = getattr(self, "model_", self.model) or ""
        if self.adapted_:
            fixes = ", ".join(describe(*a) for a in self.adapted_.items())
            notes.append(
                f"{model} refused {stats['refused_params']} request(s) for their parameters; "
                f"sent {fixes} instead (not counted as failures)"
            )
        notes.extend(omitted(model, self.temperature))
        if stats["cut_off"]:
            notes.append(self._cut_off_message(stats["cut_off"], early=False))
        if self.priced and getattr(self, "estimate_", None) is not None:
            found = self.estimate_
            how = " at the batch price" if self.batch else ""
            notes.append(
                f"cost ${stats['cost']:.4f} for {stats['requests']} request(s){how}, "
                f"{stats['cache_hits']} from the cache (estimated up to ${found.cost:.4f} "
                f"before the run, tokens counted by {found.method})"
            )
        return notes


class _ErrorLike:
    """A batch line's error object, shaped like the SDK's exception for :class:`Refused`."""

    def __init__(self, error: dict[str, Any]) -> None:
        self.code = error.get("code")
        self.param = error.get("param")
        self.message = str(error.get("message") or "")

    def __str__(self) -> str:
        return self.message


def _parse_completion(body: dict[str, Any]) -> Any:
    from openai.types.chat import ChatCompletion

    return ChatCompletion.model_validate(body)


def _what_came(raw: Any, exc: BaseException) -> str:
    """A reply that is not a chat completion, described: status, content type, and whether the
    body is JSON at all."""
    import json

    response = getattr(raw, "http_response", None)
    if response is None:
        return first_line(exc)
    content_type = response.headers.get("content-type") or "no content-type"
    try:
        text = response.text
        json.loads(text)
    except ValueError:
        kind = f"not JSON: {text[:40]!r}"
    else:
        kind = f"JSON that is not a chat completion ({first_line(exc)})"
    return f"HTTP {response.status_code} ({content_type}), {kind}"


def _close_loop(loop: asyncio.AbstractEventLoop, client: Any) -> None:
    """End every task still on ``loop`` (the requests, the watch, a wait that Ctrl-C broke off),
    close the HTTP client, then the loop, so nothing is left to run on a closed loop. A second
    Ctrl-C meanwhile stops the waiting, not the closing. A coroutine that Ctrl-C left created
    but never awaited (the HTTP client's, mid-request) goes quietly: Python's "was never awaited"
    warning would be a second stderr line after the one that says what happened."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", r"coroutine .* was never awaited", RuntimeWarning)
        try:
            pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
            for task in pending:
                task.cancel()
            if pending:
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            if client is not None:
                loop.run_until_complete(client.close())
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            for task in asyncio.all_tasks(loop):
                task.cancel()
            loop.close()
            gc.collect()  # what the closing left behind goes now, while the filter holds
