"""GPT-5-family reasoning models for the fake OpenAI server (standard library only).

``reasoning_model(answer, family)`` wraps a chat responder so that the server checks each chat
body as OpenAI's GPT-5 family does and spends reasoning tokens before the answer::

    with FakeOpenAI(chat=reasoning_model(script(Reply(text="42")), family="gpt-5")) as server:
        ...

Refused like the real API (HTTP 400, ``invalid_request_error``):

- ``max_tokens`` in the body: ``unsupported_parameter`` (use ``max_completion_tokens``);
- ``temperature`` other than 1: ``unsupported_value`` (only the default is supported);
- a ``reasoning_effort`` the family does not take: ``unsupported_value``;
- ``max_completion_tokens`` below 1: ``integer_below_min_value``.

Reasoning tokens spent per request, fixed here so tests can compute budgets (the real numbers
vary from request to request): see ``REASONING_TOKENS``. The answer itself costs
``Reply.completion_tokens``. Both come out of ``max_completion_tokens`` (absent: no limit); when
they do not fit, the reply is empty with ``finish_reason: "length"``, ``completion_tokens`` equal
to the budget and ``reasoning_tokens = min(reasoning, budget)``, as OpenAI answers when the
reasoning uses up the budget.
"""

from __future__ import annotations

import json
import threading
from dataclasses import replace

from tests.openai_server import Reply, Responder, error_body

__all__ = ["FAMILIES", "REASONING_TOKENS", "check_body", "reasoning_model"]

REASONING_TOKENS = {"none": 0, "minimal": 8, "low": 64, "medium": 192, "high": 512, "xhigh": 1024}
FAMILIES: dict[str, tuple[tuple[str, ...], str]] = {  # family -> (efforts accepted, default)
    "gpt-5": (("minimal", "low", "medium", "high"), "medium"),
    "gpt-5.1": (("none", "low", "medium", "high"), "none"),
    "gpt-5.2": (("none", "low", "medium", "high", "xhigh"), "none"),
}


def _quoted(values: tuple[str, ...]) -> str:
    """``'a', 'b', and 'c'`` as in OpenAI's messages."""
    items = [f"'{v}'" for v in values]
    return ", ".join(items[:-1]) + ", and " + items[-1] if len(items) > 2 else " and ".join(items)


def check_body(body: dict, family: str = "gpt-5") -> dict | None:
    """OpenAI's 400 error body for a chat body the family refuses, or ``None`` if accepted."""
    efforts, _ = FAMILIES[family]
    if body.get("max_tokens") is not None:
        message = (
            "Unsupported parameter: 'max_tokens' is not supported with this model. "
            "Use 'max_completion_tokens' instead."
        )
        return error_body(message, code="unsupported_parameter", param="max_tokens")
    temperature = body.get("temperature")
    if temperature is not None and temperature != 1:
        message = (
            f"Unsupported value: 'temperature' does not support {json.dumps(temperature)} with "
            "this model. Only the default (1) value is supported."
        )
        return error_body(message, code="unsupported_value", param="temperature")
    effort = body.get("reasoning_effort")
    if effort is not None and effort not in efforts:
        shown = f"'{effort}'" if isinstance(effort, str) else json.dumps(effort)
        message = (
            f"Unsupported value: 'reasoning_effort' does not support {shown} with this model. "
            f"Supported values are: {_quoted(efforts)}."
        )
        return error_body(message, code="unsupported_value", param="reasoning_effort")
    budget = body.get("max_completion_tokens")
    if isinstance(budget, int) and budget < 1:
        message = (
            "Invalid 'max_completion_tokens': integer below minimum value. "
            f"Expected a value >= 1, but got {budget} instead."
        )
        return error_body(message, code="integer_below_min_value", param="max_completion_tokens")
    return None


def reasoning_model(answer: Responder, family: str = "gpt-5") -> Responder:
    """A chat responder acting as a GPT-5-family model whose answers come from ``answer``.

    Refused bodies get OpenAI's 400 without reaching ``answer``; ``answer(body, n)`` is called
    for accepted ones only, ``n`` counting those (0-based). Its ``Reply`` gives the text and
    ``completion_tokens`` of the answer; error replies and replies with their own body pass
    through unchanged. ``family``: one of ``FAMILIES``.
    """
    if family not in FAMILIES:
        raise ValueError(f"unknown family {family!r}: expected one of {sorted(FAMILIES)}")
    _, default = FAMILIES[family]
    lock = threading.Lock()
    accepted = 0

    def respond(body: dict, n: int) -> Reply:
        nonlocal accepted
        refusal = check_body(body, family)
        if refusal is not None:
            return Reply(400, json_body=refusal)
        with lock:
            index, accepted = accepted, accepted + 1
        reply = answer(body, index)
        if reply.status >= 400 or reply.json_body is not None or reply.raw_body is not None:
            return reply
        reasoning = REASONING_TOKENS[body.get("reasoning_effort") or default]
        budget = body.get("max_completion_tokens")
        if budget is not None and reasoning + reply.completion_tokens > budget:
            spent = min(reasoning, budget)
            return replace(
                reply,
                text="",
                finish_reason="length",
                completion_tokens=budget,
                reasoning_tokens=spent,
            )
        return replace(
            reply,
            completion_tokens=reasoning + reply.completion_tokens,
            reasoning_tokens=reasoning,
        )

    return respond
