"""Which request parameters a chat model takes, by model family.

OpenAI's reasoning models (the GPT-5 family and the o-series) refuse ``max_tokens`` with a 400
(they take ``max_completion_tokens``, which also pays for their reasoning tokens), refuse any
``temperature`` but the default, and take ``reasoning_effort``; a budget too small for the
reasoning gives an empty reply with ``finish_reason: "length"``.
(https://platform.openai.com/docs/guides/reasoning,
https://platform.openai.com/docs/api-reference/chat/create)

The table below is the first guess, looked up by the bare model id (``ft:``, ``openai/`` and
``models/`` prefixes dropped); a model it does not know is a classic chat model. When a server
answers with OpenAI's documented 400 for an unsupported parameter or value, :func:`adaptation`
turns the error into a fix that the predictor keeps for the rest of the run.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from harness.errors import PricebenchError

# reasoning_effort values across providers, lowest first
EFFORT_ORDER = ("none", "minimal", "low", "medium", "high", "xhigh", "max")
DROP = None  # an adaptation that leaves the parameter out


@dataclass(frozen=True, slots=True)
class Family:
    """How one family of models takes its parameters."""

    name: str
    pattern: str  # a regular expression matched at the start of the bare model id
    reasoning: bool = False  # spends reasoning tokens out of the completion budget
    token_param: str = "max_tokens"  # the name of the completion budget
    temperature: bool = True  # takes a temperature other than the default
    efforts: tuple[str, ...] = ()  # reasoning_effort values it accepts, lowest first
    min_budget: int = 0  # the budget that leaves room for an answer at the lowest effort
    strict: bool = False  # the server refuses efforts outside `efforts` (OpenAI documents it)

    def matches(self, bare: str) -> bool:
        return re.match(self.pattern, bare) is not None


def _openai(name: str, pattern: str, efforts: tuple[str, ...] = (), min_budget: int = 0) -> Family:
    """An OpenAI reasoning family: max_completion_tokens, the default temperature only, and the
    efforts listed (others are refused with a 400)."""
    return Family(name, pattern, True, "max_completion_tokens", False, efforts, min_budget, True)


# First match wins. min_budget: room for what the lowest effort may still spend on reasoning, plus
# the answer; generous, since only the tokens spent are billed (and a cut-off reply is wasted).
FAMILIES: tuple[Family, ...] = (
    # GPT-5.x chat snapshots answer without reasoning but share the new parameter names.
    Family("gpt-5-chat", r"gpt-5(\.\d+)?-chat", token_param="max_completion_tokens"),
    # GPT-5.1 and later: `none` (no reasoning) is the lowest effort and the default; `minimal`
    # is refused; later models add `xhigh`.
    _openai("gpt-5.1+", r"gpt-5\.\d", ("none", "low", "medium", "high", "xhigh"), 16),
    # GPT-5, -mini, -nano: `minimal` spends very few reasoning tokens; the default is `medium`.
    _openai("gpt-5", r"gpt-5", ("minimal", "low", "medium", "high"), 64),
    # o1-mini and o1-preview take no reasoning_effort at all.
    _openai("o1-mini", r"o1-(mini|preview)", (), 2048),
    _openai("o-series", r"o[1-9]", ("low", "medium", "high"), 2048),
    # Through OpenAI-compatible layers (https://ai.google.dev/gemini-api/docs/openai,
    # https://docs.x.ai/developers/model-capabilities/text/reasoning,
    # https://api-docs.deepseek.com/guides/thinking_mode,
    # https://platform.claude.com/docs/en/cli-sdks-libraries/libraries/openai-sdk): thinking
    # models whose thinking comes out of max_tokens. Gemini 3 maps minimal/low to its `low`
    # thinking level and cannot stop thinking; 2.5 Pro cannot either.
    Family(
        "gemini-3",
        r"gemini-3",
        reasoning=True,
        efforts=("minimal", "low", "medium", "high"),
        min_budget=4096,
    ),  # fmt: skip
    Family("gemini-2.5", r"gemini-2\.5", reasoning=True, min_budget=4096),
    Family("grok-non-reasoning", r"grok-.*non-reasoning"),
    Family(
        "grok-4.3",
        r"grok-4\.[3-9]",
        reasoning=True,
        efforts=("none", "low", "medium", "high"),
        min_budget=1024,
    ),  # fmt: skip
    Family(
        "grok-3-mini", r"grok-3-mini", reasoning=True, efforts=("low", "high"), min_budget=1024
    ),  # fmt: skip
    # Older Grok 4 models always reason and answer any reasoning_effort with an error.
    Family("grok-4", r"grok-4", reasoning=True, min_budget=4096),
    Family(
        "deepseek-reasoner",
        r"deepseek-(reasoner|flash|v4)",
        reasoning=True,
        efforts=("low", "high", "max"),
        min_budget=4096,
    ),  # fmt: skip
    # Claude 4.6 and later think by default (the layer ignores reasoning_effort) and refuse a
    # prefill; earlier Claude models answer as classic chat models.
    Family(
        "claude-thinking",
        r"claude-(sonnet|opus|haiku)-(4-[6-9]|[5-9])",
        reasoning=True,
        min_budget=4096,
    ),  # fmt: skip
)
CLASSIC = Family("chat", r"")


def bare_model(model: str) -> str:
    """The model id without a fine-tune or router prefix: ``ft:gpt-4o-mini-2024-07-18:org:x:id``
    → ``gpt-4o-mini-2024-07-18``, ``openai/gpt-5-mini`` → ``gpt-5-mini``."""
    bare = model.strip().lower()
    if bare.startswith("ft:"):
        bare = bare.split(":")[1]
    return bare.rsplit("/", 1)[-1]


def family(model: str) -> Family:
    """The first family of :data:`FAMILIES` that matches ``model``, else a classic chat model."""
    bare = bare_model(model)
    return next((f for f in FAMILIES if f.matches(bare)), CLASSIC)


def request_params(
    model: str,
    *,
    max_tokens: int,
    temperature: float | None,
    seed: int | None,
    reasoning_effort: str | None,
    adapted: Mapping[str, str | None] | None = None,
) -> dict[str, Any]:
    """The request's parameters besides ``model`` and ``messages``, as ``model`` takes them.

    ``max_tokens`` is the completion budget, sent under the family's name for it; with
    ``reasoning_effort`` None a reasoning model gets its family's lowest effort and at least the
    family's ``min_budget``. A temperature the family refuses is left out. ``adapted`` holds
    what servers refused during this run: a parameter renamed (``max_tokens`` →
    ``max_completion_tokens``), given another value, or left out (None).
    """
    fam = family(model)
    effort = reasoning_effort
    if effort is not None and fam.strict and fam.efforts and effort not in fam.efforts:
        raise PricebenchError(
            f"predictor.reasoning_effort={effort!r} is not accepted by {model} (it takes "
            f"{', '.join(fam.efforts)}); set one of those, or null for the lowest"
        )
    if effort is None and fam.efforts:
        effort = fam.efforts[0]
    budget = max_tokens
    if fam.reasoning and reasoning_effort is None:
        budget = max(max_tokens, fam.min_budget)
    params: dict[str, Any] = {fam.token_param: budget}
    if effort is not None:
        params["reasoning_effort"] = effort
    if temperature is not None and (fam.temperature or temperature == 1):
        params["temperature"] = temperature
    if seed is not None:
        params["seed"] = seed
    for name, fix in (adapted or {}).items():
        if name not in params:
            continue
        value = params.pop(name)
        if fix is DROP:
            continue
        if name in ("max_tokens", "max_completion_tokens"):
            params[fix] = value
        else:
            params[name] = fix
    return params


def omitted(model: str, temperature: float | None) -> list[str]:
    """What :func:`request_params` leaves out of the user's settings for ``model``, as notes."""
    fam = family(model)
    if temperature is not None and temperature != 1 and not fam.temperature:
        return [
            f"predictor.temperature={temperature} not sent: {model} takes only the default "
            f"temperature ({fam.name} family)"
        ]
    return []


_SUPPORTED = re.compile(r"Supported values are:?\s*(.*)", re.IGNORECASE)


def adaptation(
    code: str | None, param: str | None, message: str, sent: Mapping[str, Any],
    effort_setting: str | None,
) -> tuple[str, str | None] | None:  # fmt: skip
    """The fix for OpenAI's documented 400 ``unsupported_parameter``/``unsupported_value``:
    ``(parameter, replacement)`` where the replacement is a new name for ``max_tokens``, a new
    value (the lowest supported reasoning effort), or None (leave it out); None when the error
    is not one a request can be adapted to, or the user chose the refused value."""
    if code not in ("unsupported_parameter", "unsupported_value") or not param:
        return None
    if param in ("model", "messages") or param not in sent:
        return None
    if code == "unsupported_parameter" and param == "max_tokens":
        return ("max_tokens", "max_completion_tokens")
    if code == "unsupported_parameter" and param == "max_completion_tokens":
        return ("max_completion_tokens", "max_tokens")
    if param == "reasoning_effort" and code == "unsupported_value":
        if effort_setting is not None:
            return None  # the user asked for this effort: say so rather than change it
        found = _SUPPORTED.search(message)
        values = re.findall(r"'([a-z]+)'", found.group(1)) if found else []
        ranked = [v for v in EFFORT_ORDER if v in values]
        return ("reasoning_effort", ranked[0] if ranked else DROP)
    if param == "seed" or param == "temperature" or code == "unsupported_parameter":
        return (param, DROP)
    return None


def describe(param: str, fix: str | None) -> str:
    """An adaptation in a few words: ``max_tokens→max_completion_tokens``, ``seed omitted``."""
    if fix is DROP:
        return f"{param} omitted"
    if param in ("max_tokens", "max_completion_tokens"):
        return f"{param}→{fix}"
    return f"{param}={fix}"
