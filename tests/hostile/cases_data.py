"""Hostile cases: test data, recordings, charts and per-item lines."""

from __future__ import annotations

from tests.hostile.cases import Case

CASES: list[Case] = []
