"""The model-family table and the adaptations to OpenAI's 400s for unsupported parameters."""

from __future__ import annotations

import pytest

from harness.errors import PricebenchError
from predictors.model_families import (
    CLASSIC,
    adaptation,
    bare_model,
    describe,
    family,
    omitted,
    request_params,
)

COURSE = {"max_tokens": 5, "temperature": None, "seed": 42, "reasoning_effort": None}
MAX_TOKENS_REFUSED = (
    "Unsupported parameter: 'max_tokens' is not supported with this model. "
    "Use 'max_completion_tokens' instead."
)


@pytest.mark.parametrize(
    ("model", "name"),
    [
        ("gpt-4o-mini", "chat"),
        ("ft:gpt-4o-mini-2024-07-18:acme:pricer:AbC123", "chat"),
        ("gpt-4.1-nano", "chat"),
        ("gpt-5", "gpt-5"),
        ("gpt-5-mini-2025-08-07", "gpt-5"),
        ("openai/gpt-5-nano", "gpt-5"),
        ("gpt-5.1", "gpt-5.1+"),
        ("GPT-5.2-pro", "gpt-5.1+"),
        ("gpt-5-chat-latest", "gpt-5-chat"),
        ("gpt-5.1-chat-latest", "gpt-5-chat"),
        ("o3-mini", "o-series"),
        ("o4-mini-2025-04-16", "o-series"),
        ("o1-mini", "o1-mini"),
        ("omni-moderation-latest", "chat"),
        ("claude-sonnet-4-5", "chat"),
        ("claude-sonnet-4-5-20250929", "chat"),
        ("claude-sonnet-5-5", "claude-thinking"),
        ("grok-4.3", "grok-4.3"),
        ("deepseek-flash", "deepseek-reasoner"),
        ("models/gemini-3-pro-preview", "gemini-3"),
        ("grok-4-1-fast-non-reasoning", "grok-non-reasoning"),
        ("grok-4-1-fast-reasoning", "grok-4"),
        ("deepseek-reasoner", "deepseek-reasoner"),
        ("llama3.2", "chat"),
    ],
)
def test_models_map_to_their_family(model: str, name: str) -> None:
    assert family(model).name == name


def test_bare_model_drops_fine_tune_and_router_prefixes() -> None:
    assert bare_model("ft:gpt-4o-mini-2024-07-18:acme:pricer:AbC123") == "gpt-4o-mini-2024-07-18"
    assert bare_model("openai/gpt-5-mini") == "gpt-5-mini"


def test_classic_models_get_the_course_parameters_unchanged() -> None:
    assert request_params("gpt-4o-mini", **COURSE) == {"max_tokens": 5, "seed": 42}
    with_temperature = {**COURSE, "temperature": 0.2}
    assert request_params("gpt-4o-mini", **with_temperature)["temperature"] == 0.2
    assert family("anything-local").token_param == CLASSIC.token_param == "max_tokens"


def test_gpt5_gets_max_completion_tokens_the_lowest_effort_and_room_for_the_answer() -> None:
    params = request_params("gpt-5-mini", **COURSE)
    assert params == {"max_completion_tokens": 64, "reasoning_effort": "minimal", "seed": 42}
    assert request_params("gpt-5.1", **COURSE)["reasoning_effort"] == "none"
    assert request_params("o4-mini", **COURSE)["reasoning_effort"] == "low"
    assert "reasoning_effort" not in request_params("o1-mini", **COURSE)


def test_an_explicit_effort_keeps_the_budget_as_given() -> None:
    params = request_params("gpt-5-mini", **{**COURSE, "reasoning_effort": "high", "max_tokens": 8})
    assert params == {"max_completion_tokens": 8, "reasoning_effort": "high", "seed": 42}


def test_an_effort_the_family_refuses_is_one_clear_error_before_any_request() -> None:
    with pytest.raises(PricebenchError, match=r"reasoning_effort='minimal' is not accepted by"):
        request_params("gpt-5.1", **{**COURSE, "reasoning_effort": "minimal"})


def test_a_temperature_reasoning_models_refuse_is_left_out_and_said() -> None:
    settings = {**COURSE, "temperature": 0.2}
    assert "temperature" not in request_params("gpt-5-mini", **settings)
    assert request_params("gpt-5-mini", **{**COURSE, "temperature": 1})["temperature"] == 1
    (note,) = omitted("gpt-5-mini", 0.2)
    assert "predictor.temperature=0.2 not sent" in note
    assert omitted("gpt-4o-mini", 0.2) == []


def test_adaptations_rename_replace_or_drop() -> None:
    sent = {"model": "m", "messages": [], "max_tokens": 5, "temperature": 0.2, "seed": 42,
            "reasoning_effort": "minimal"}  # fmt: skip
    fix = adaptation("unsupported_parameter", "max_tokens", MAX_TOKENS_REFUSED, sent, None)
    assert fix == ("max_tokens", "max_completion_tokens")
    message = "Unsupported value: 'temperature' does not support 0.2 with this model."
    assert adaptation("unsupported_value", "temperature", message, sent, None) == (
        "temperature",
        None,
    )
    efforts = (
        "Unsupported value: 'reasoning_effort' does not support 'minimal' with this model. "
        "Supported values are: 'none', 'low', 'medium', and 'high'."
    )
    assert adaptation("unsupported_value", "reasoning_effort", efforts, sent, None) == (
        "reasoning_effort",
        "none",
    )
    # the user chose that effort: no silent change
    assert adaptation("unsupported_value", "reasoning_effort", efforts, sent, "minimal") is None
    # not OpenAI's documented codes, or about the model itself: no adaptation
    assert adaptation("model_not_found", "model", "no such model", sent, None) is None
    assert adaptation(None, "max_tokens", MAX_TOKENS_REFUSED, sent, None) is None
    assert adaptation("unsupported_parameter", "top_p", "x", sent, None) is None  # not sent


def test_adaptations_apply_to_the_parameters_of_the_rest_of_the_run() -> None:
    adapted = {"max_tokens": "max_completion_tokens", "temperature": None}
    params = request_params("my-deployment", **{**COURSE, "temperature": 0.2}, adapted=adapted)
    assert params == {"max_completion_tokens": 5, "seed": 42}
    assert describe("max_tokens", "max_completion_tokens") == "max_tokens→max_completion_tokens"
    assert describe("temperature", None) == "temperature omitted"
    assert describe("reasoning_effort", "none") == "reasoning_effort=none"
