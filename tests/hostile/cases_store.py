"""Hostile cases: where a run writes (results, cache, W&B folders), file modes, Ctrl-C."""

from __future__ import annotations

from tests.hostile.cases import Case

CASES: list[Case] = [
    Case(
        id="data-folder-missing",
        row=0,
        command="pricebench",
        args=["tracker=none"],
        env={"PRICEBENCH_DATA": "{tmp}/nowhere"},
        expect=r"^pricebench: error: data path .*/nowhere does not exist",
    ),
]
