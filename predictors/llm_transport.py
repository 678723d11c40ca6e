"""Sending chat requests without being held hostage: retries with backoff (as the openai SDK does
them, but visible), a circuit breaker for an endpoint that never answers or refuses connections,
and a bounded, reported wait under sustained rate limiting.

The SDK's own retries are off (``max_retries=0`` on the client); :func:`send` retries what the SDK
would retry (connection errors, timeouts, 408, 409, 5xx; honouring ``x-should-retry`` and
``retry-after``) up to ``max_retries`` times, and 429s for as long as :class:`Watch` allows.
"""

from __future__ import annotations

import asyncio
import email.utils
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from harness.errors import PricebenchError, first_line

REPORT_EVERY = 15.0  # seconds between console reports while rate limited
MAX_BACKOFF = 8.0  # the SDK's cap on exponential backoff (0.5 s · 2ⁿ)


class CallFailed(Exception):
    """A request that still failed after its retries (counted; the run goes on)."""

    def __init__(self, why: str, retries: int) -> None:
        super().__init__(why)
        self.retries = retries


class NotACompletion(CallFailed):
    """A request answered (HTTP 2xx) with something that is not a chat completion: not retried,
    since the same endpoint answers the same way."""


class Refused(Exception):
    """A 400 for a parameter or value the model does not take (OpenAI's documented codes)."""

    def __init__(self, exc: Any) -> None:
        super().__init__(first_line(exc))
        self.code = getattr(exc, "code", None)
        self.param = getattr(exc, "param", None)
        body = getattr(exc, "body", None)
        found = body.get("message") if isinstance(body, dict) else None
        self.message = str(found or getattr(exc, "message", "") or exc)


def console(message: str) -> None:
    """One ``pricebench:`` line on stderr that leaves a progress bar intact."""
    from tqdm import tqdm

    tqdm.write(f"pricebench: {message}", file=sys.stderr)


@dataclass
class Watch:
    """What every request of one run has seen: trips the circuit breaker when ``breaker``
    requests in a row fail to connect or time out, and stops the run when rate limiting lasts
    longer than ``rate_limit_wait`` seconds; reports both on the console."""

    base_url: str
    key_env: str | None
    timeout: float
    max_retries: int
    breaker: int = 3
    rate_limit_wait: float = 120.0
    quiet: bool = False
    say: Callable[[str], None] = console
    answered: int = 0
    dead_in_a_row: int = 0
    rate_limited_since: float | None = None
    last_report: float = 0.0
    last_429: str = ""
    concurrency: Callable[[], int] = field(default=lambda: 0)

    def ok(self) -> None:
        self.answered += 1
        self.dead_in_a_row = 0
        if self.rate_limited_since is not None:
            waited = time.monotonic() - self.rate_limited_since
            if waited >= REPORT_EVERY or not self.quiet:
                self.say(f"rate limiting over after {waited:.0f} s; answers are coming in again")
            self.rate_limited_since = None

    def dead(self, exc: Exception) -> None:
        """A request failed to connect or timed out after all its retries."""
        self.dead_in_a_row += 1
        if not self.breaker or self.dead_in_a_row < self.breaker:
            return
        timed_out = "Timeout" in type(exc).__name__
        n = self.dead_in_a_row
        what = (
            f"timed out ({self.timeout:g} s each, {self.max_retries} retries)"
            if timed_out
            else f"failed to connect ({first_line(exc)}; {self.max_retries} retries each)"
        )
        since = "the first" if not self.answered else f"after {self.answered} answers, the last"
        fix = (
            "check that the server is up, or raise predictor.timeout"
            if timed_out
            else "check predictor.base_url, the network, and that the server is running"
        )
        raise PricebenchError(
            f"no answer from {self.base_url}: {since} {n} requests all {what}; {fix} "
            "(predictor.circuit_breaker=0 turns this check off)"
        )

    def rate_limited(self, exc: Exception, delay: float) -> None:
        """A 429: stop at once for an exhausted quota or a wait past the bound, else report."""
        now = time.monotonic()
        self.last_429 = first_line(exc)
        if getattr(exc, "code", None) == "insufficient_quota":
            raise PricebenchError(
                f"{self.base_url} refuses requests: the account is out of quota "
                f"({self.last_429}); add credit, or use another key"
            )
        if self.rate_limited_since is None:
            self.rate_limited_since = now
            self.last_report = 0.0
        waited = now - self.rate_limited_since
        if waited + delay > self.rate_limit_wait:
            self.give_up(waited, delay)
        self.report(now)

    def give_up(self, waited: float, delay: float = 0.0) -> None:
        asked = f"; the server asks to wait {delay:.0f} s more" if delay > REPORT_EVERY else ""
        raise PricebenchError(
            f"rate limited by {self.base_url} for {waited:.0f} s without an answer "
            f"({self.last_429}){asked}; answered requests are cached, so a rerun resumes: "
            "lower predictor.concurrency, or raise predictor.rate_limit_wait "
            f"(now {self.rate_limit_wait:g} s)"
        )

    def report(self, now: float) -> None:
        if self.rate_limited_since is None or now - self.last_report < REPORT_EVERY:
            return
        self.last_report = now
        waited = now - self.rate_limited_since
        self.say(
            f"rate limited by {self.base_url} (429) for {waited:.0f} s, concurrency now "
            f"{self.concurrency()}; retrying, for up to {self.rate_limit_wait:g} s "
            "(predictor.rate_limit_wait)"
        )

    async def tick(self) -> None:
        """Runs beside the requests: reports every 15 s while rate limited; stops the run past the
        bound even while every request sleeps on a long ``retry-after``."""
        while True:
            await asyncio.sleep(0.5)
            if self.rate_limited_since is None:
                continue
            now = time.monotonic()
            if now - self.rate_limited_since > self.rate_limit_wait:
                self.give_up(now - self.rate_limited_since)
            self.report(now)


def retry_after(exc: Any) -> float | None:
    """The server's ``retry-after-ms`` or ``retry-after`` (seconds or an HTTP date), if any."""
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if headers is None:
        return None
    try:
        if (ms := headers.get("retry-after-ms")) is not None:
            return max(0.0, float(ms) / 1000)
        value = headers.get("retry-after")
        if value is None:
            return None
        try:
            return max(0.0, float(value))
        except ValueError:
            when = email.utils.parsedate_to_datetime(value)
            return max(0.0, when.timestamp() - time.time())
    except (TypeError, ValueError, OverflowError):
        return None


def backoff(attempt: int) -> float:
    """The SDK's backoff: 0.5 s · 2ⁿ, at most 8 s, less up to 25% jitter."""
    return min(0.5 * 2.0**attempt, MAX_BACKOFF) * (1 - 0.25 * random.random())


def _retryable(exc: Any) -> bool:
    import openai

    if isinstance(exc, openai.APIConnectionError):  # timeouts included
        return True
    response = getattr(exc, "response", None)
    should = response.headers.get("x-should-retry") if response is not None else None
    if should in ("true", "false"):
        return should == "true"
    status = getattr(exc, "status_code", 0)
    return status in (408, 409) or status >= 500


async def send(
    post: Callable[[], Any],
    watch: Watch,
    on_congestion: Callable[[bool], None],  # told of each 429
    label: str,
) -> tuple[Any, int]:
    """``await post()`` until it answers: returns ``(raw response, retries taken)``.

    Raises :class:`Refused` for an unsupported parameter or value, :class:`CallFailed` when a
    request still fails after its retries, and :class:`PricebenchError` for what no retry fixes
    (a refused key, an unknown model, the circuit breaker, rate limiting past its bound).
    """
    import openai

    attempt = retries = 0
    while True:
        try:
            raw = await post()
        except openai.RateLimitError as exc:
            delay = retry_after(exc)
            delay = backoff(min(attempt, 4)) if delay is None else delay
            on_congestion(True)
            watch.rate_limited(exc, delay)
            if not watch.quiet:
                now = f"concurrency now {watch.concurrency()}"
                watch.say(f"{label}: rate limited (429), retrying in {delay:.1f} s; {now}")
            attempt, retries = attempt + 1, retries + 1
            await asyncio.sleep(delay)
            continue
        except openai.BadRequestError as exc:
            if getattr(exc, "code", None) in ("unsupported_parameter", "unsupported_value"):
                raise Refused(exc) from None
            fix = (
                "set predictor.prefill=null (this model takes no assistant prefill)"
                if "prefill" in str(exc).lower()
                else "check predictor.model, predictor.base_url and the request settings"
            )
            raise PricebenchError(
                f"{watch.base_url} rejected the request ({first_line(exc)}); {fix}"
            ) from None
        except (openai.AuthenticationError, openai.PermissionDeniedError) as exc:
            raise PricebenchError(
                f"{watch.base_url} refused the API key in {watch.key_env} ({first_line(exc)}); "
                "check the key"
            ) from None
        except openai.NotFoundError as exc:
            raise PricebenchError(
                f"{watch.base_url} has no such model or route ({first_line(exc)}); check "
                "predictor.model and predictor.base_url"
            ) from None
        except openai.APIError as exc:
            if not _retryable(exc) or attempt >= watch.max_retries:
                if isinstance(exc, openai.APIConnectionError):
                    watch.dead(exc)
                raise CallFailed(first_line(exc), retries) from None
            delay = retry_after(exc)
            delay = backoff(attempt) if delay is None or delay > 60 else delay
            if not watch.quiet:
                retry = f"retry {attempt + 1}/{watch.max_retries} in {delay:.1f} s"
                watch.say(f"{label}: {first_line(exc)}; {retry}")
            attempt, retries = attempt + 1, retries + 1
            await asyncio.sleep(delay)
            continue
        watch.ok()
        return raw, retries
