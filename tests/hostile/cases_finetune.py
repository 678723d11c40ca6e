"""Hostile cases: fine-tuning, the installed wheel."""

from __future__ import annotations

from tests.hostile.cases import Case

CASES: list[Case] = []
