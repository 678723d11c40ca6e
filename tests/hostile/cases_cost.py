"""Hostile cases: the error-against-cost chart (``pricebench-leaderboard --format cost``, issue
14 item 3). Run folders are written directly, with a ``cost`` in metrics.json."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.hostile.cases import Case
from tests.hostile.cases_board import write_good_run

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def costed(*costs: object) -> object:
    """Setup: one run per cost (None: no cost in metrics.json)."""

    def setup(tmp: Path) -> None:
        for seed, cost in enumerate(costs, 1):
            extra = {} if cost is None else {"cost": cost}
            write_good_run(tmp / "results", f"run{seed}", 0.1 * seed, seed, **extra)

    return setup


def spoiled_cost(tmp: Path) -> None:
    costed(0.02, 0.4, 0.8)(tmp)
    (path,) = (tmp / "results").glob("20260103-*")
    metrics = json.loads((path / "metrics.json").read_text())
    (path / "metrics.json").write_text(json.dumps({**metrics, "cost": "cheap"}))


def png_written(tmp: Path, done: subprocess.CompletedProcess) -> None:
    data = (tmp / "cost.png").read_bytes()
    assert data[:8] == PNG_MAGIC and len(data) > 10_000


def nothing_written(tmp: Path, done: subprocess.CompletedProcess) -> None:
    assert not (tmp / "cost.png").exists()


ARGS = ["--results", "{tmp}/results", "--format", "cost", "--bootstrap", "0"]
CASES = [
    Case(
        id="cost-chart-without-output",
        row=0,
        command="pricebench-leaderboard",
        args=ARGS,
        expect=r"^pricebench-leaderboard: error: --format cost writes a PNG: give --output ",
        setup=costed(0.02, 0.4),
    ),
    Case(
        id="cost-chart-one-costed-run",
        row=0,
        command="pricebench-leaderboard",
        args=[*ARGS, "--output", "{tmp}/cost.png"],
        expect=r"^pricebench-leaderboard: error: the cost chart needs two runs with a cost on one "
        r"item set; the board has 1 run\(s\) with a cost",
        setup=costed(0.02, None),
        check=nothing_written,
    ),
    Case(
        id="cost-chart-zero-and-negative-costs",
        row=0,
        command="pricebench-leaderboard",
        args=[*ARGS, "--output", "{tmp}/cost.png"],
        expect=r"the board has 0 run\(s\) with a cost",
        setup=costed(0, -1.5),
        check=nothing_written,
    ),
    Case(
        id="cost-chart-huge-cost",
        row=0,
        command="pricebench-leaderboard",
        args=[*ARGS, "--output", "{tmp}/cost.png"],
        expect=r"the board has 1 run\(s\) with a cost",
        setup=costed(1e308, 0.4),
        check=nothing_written,
    ),
    Case(
        id="cost-chart-output-under-a-file",
        row=0,
        command="pricebench-leaderboard",
        args=[*ARGS, "--output", "{tmp}/results/20260101-000000_run1_000001/metrics.json/x.png"],
        expect=r"^pricebench-leaderboard: error: cannot write .*x\.png: .*give --output a file",
        setup=costed(0.02, 0.4),
    ),
    Case(
        id="cost-chart-a-run-with-a-text-cost",
        row=0,
        command="pricebench-leaderboard",
        args=[*ARGS, "--output", "{tmp}/cost.png"],
        expect=r"^pricebench-leaderboard: warning: skipped .*20260103-.*: metrics.json's 'cost' "
        r"is 'cheap', not a number$",
        exit_code=0,
        setup=spoiled_cost,
        check=png_written,
    ),
    Case(
        id="cost-chart-written",
        row=0,
        command="pricebench-leaderboard",
        args=[*ARGS, "--output", "{tmp}/cost.png"],
        expect=r"^wrote .*cost\.png$",
        exit_code=0,
        stream="stdout",
        setup=costed(0.02, 0.4, None),
        check=png_written,
    ),
]
