"""What a chat run will cost before its first request, from its prompts' tokens and the model's
prices; above ``predictor.max_cost`` the run stops before it pays for anything."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from harness.errors import PricebenchError
from harness.tokens import count_messages, counter_name

BUDGET_PARAMS = ("max_completion_tokens", "max_tokens")


@dataclass(frozen=True, slots=True)
class Estimate:
    requests: int
    input_tokens: int
    output_tokens: int  # the completion budgets: an upper bound
    cost: float
    method: str  # how tokens were counted


def estimate(
    bodies: Iterable[dict[str, Any]], input_price: float, output_price: float, factor: float = 1.0
) -> Estimate:
    """The cost of sending ``bodies``: their messages' tokens at ``input_price`` and their whole
    completion budgets at ``output_price`` (dollars per million tokens), times ``factor`` (the
    batch price)."""
    requests = input_tokens = output_tokens = 0
    for body in bodies:
        requests += 1
        input_tokens += count_messages(body.get("messages") or [])
        output_tokens += next((int(body[p]) for p in BUDGET_PARAMS if body.get(p)), 0)
    cost = (input_tokens * input_price + output_tokens * output_price) / 1e6 * factor
    return Estimate(requests, input_tokens, output_tokens, cost, counter_name())


def check(found: Estimate, max_cost: float | None, batch: bool) -> None:
    """Stop, in one line, when ``found`` costs more than ``max_cost`` dollars."""
    if max_cost is None or found.cost <= max_cost:
        return
    price = " at the batch price" if batch else ""
    raise PricebenchError(
        f"this run would cost up to ${found.cost:.4f}{price} ({found.requests} requests not in "
        f"the cache: ~{found.input_tokens:,} input tokens counted by {found.method}, up to "
        f"{found.output_tokens:,} output tokens), over predictor.max_cost=${max_cost:g}; raise "
        f"it (predictor.max_cost={_round_up(found.cost)}) or set predictor.max_cost=null"
    )


def _round_up(cost: float) -> str:
    for step in (0.01, 0.1, 1, 10, 100, 1000):
        if cost < step * 10:
            return f"{(int(cost / step) + 1) * step:g}"
    return f"{cost:.0f}"
