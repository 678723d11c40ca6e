"""The cost guard's estimate and limit, without a server (end to end: tests/test_llm_today.py)."""

from __future__ import annotations

import pytest

from harness.errors import PricebenchError
from predictors.cost_guard import check, estimate


def test_an_estimate_over_the_limit_names_the_limit_to_set() -> None:
    body = {"messages": [{"role": "user", "content": "x" * 400}], "max_tokens": 5}
    found = estimate([body] * 250, input_price=2.5, output_price=10.0)
    assert found.requests == 250 and found.output_tokens == 250 * 5
    assert found.cost == pytest.approx(
        (found.input_tokens * 2.5 + found.output_tokens * 10.0) / 1e6
    )
    assert estimate([body], 2.5, 10.0, factor=0.5).cost == pytest.approx(
        estimate([body], 2.5, 10.0).cost / 2
    )
    check(found, None, batch=False)  # no limit
    check(found, found.cost, batch=False)  # at the limit
    with pytest.raises(PricebenchError, match=r"raise it \(predictor\.max_cost=0\.\d+\)"):
        check(found, found.cost / 2, batch=False)
