"""Hostile cases: leaderboards, the sweep callback, ties with the leader."""

from __future__ import annotations

from tests.hostile.cases import Case

CASES: list[Case] = []
