"""Hostile cases: predictor configs, replies, the response cache, LLM faults."""

from __future__ import annotations

from tests.hostile.cases import Case

CASES: list[Case] = []
