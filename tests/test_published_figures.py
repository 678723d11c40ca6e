"""The course's figures as it displays them, and reproduce's comparison at that precision."""

from __future__ import annotations

import pytest

from harness.metrics import figures, same_figures
from harness.published import PUBLISHED
from harness.reproduce import matches

GPT_4O_MINI = next(p for p in PUBLISHED if p.predictor == "gpt-4o-mini")  # 79.58, 0.59, 52.0%


def test_each_published_line_is_the_course_line() -> None:
    for p in PUBLISHED:
        assert p.line == f"Error=${p.error:,.2f} RMSLE={p.rmsle:.2f} Hits={p.hits_pct:.1f}%"
        assert p.line == figures(p.metrics)
    assert GPT_4O_MINI.line == "Error=$79.58 RMSLE=0.59 Hits=52.0%"


@pytest.mark.parametrize(
    ("measured", "same"),
    [
        ({}, True),
        ({"error": 79.5788, "rmsle": 0.5931, "hit_rate": 0.5204}, True),
        ({"error": 79.586}, False),  # $79.59
        ({"error": 79.574}, False),  # $79.57
        ({"rmsle": 0.596}, False),  # 0.60
        ({"hit_rate": 0.524}, False),  # 52.4%: the same at 0 decimals, not at the displayed 1
        ({"hit_rate": 0.516}, False),  # 51.6%
        ({"hit_rate": 0.5204}, True),  # 52.0%
    ],
)
def test_figures_match_to_the_displayed_precision(measured: dict, same: bool) -> None:
    values = {"error": 79.58, "rmsle": 0.59, "hit_rate": 0.52, **measured}
    assert same_figures(GPT_4O_MINI.metrics, values) is same
    assert matches(GPT_4O_MINI, values) is same
