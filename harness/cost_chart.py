"""Error against cost: each run that carries a cost as a point, the Pareto front marked.

A run carries a cost when its ``metrics.json`` holds a cost above zero (what an LLM predictor's
requests cost); the cost is shown per 250 items (``cost x 250 / n``, for a mean row the mean run's
cost) so runs on different numbers of items read alike. Runs of one table only (one edition, one
item set) share a chart: error on other items is not comparable.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from pathlib import Path

from harness.errors import PricebenchError
from harness.leaderboard import Leaderboard, Row, Table
from harness.metrics import METRICS, RANK_BY

PER_ITEMS = 250  # the cost column and the chart's axis: dollars per this many items
HEADING = f"$ per {PER_ITEMS} items"


def cost_per_250(row: Row) -> float | None:
    """The row's cost scaled to 250 items (a mean row: its runs' mean cost); None without one."""
    if row.cost is None or row.cost <= 0 or not row.n:
        return None
    scaled = row.cost / (row.runs or 1) * PER_ITEMS / row.n
    return scaled if math.isfinite(scaled) else None


def costed(rows: Sequence[Row]) -> list[Row]:
    """The rows with a cost and an error, in their order."""
    return [r for r in rows if cost_per_250(r) is not None and RANK_BY in r.values]


def charted_tables(board: Leaderboard) -> list[Table]:
    """The board's tables with two or more runs that carry a cost: the ones that get a chart."""
    return [t for t in board.tables() if len(costed(t.rows)) >= 2]


def pareto_front(points: Sequence[tuple[float, float]]) -> list[int]:
    """The indices of the (cost, error) points no other point beats: none is as cheap and as
    accurate and better in one of the two. Both are lower-is-better; ties both stay."""
    front = []
    for i, (cost, error) in enumerate(points):
        beaten = any(
            c <= cost and e <= error and (c < cost or e < error)
            for j, (c, e) in enumerate(points)
            if j != i
        )
        if not beaten:
            front.append(i)
    return front


def _label(row: Row) -> str:
    text = row.title if row.kind != "mean" else f"{row.title} (mean of {row.runs})"
    return text if len(text) <= 32 else text[:31] + "…"


def _caption(table: Table) -> str:
    from harness.leaderboard_format import caption

    return caption(table)


def chart_png(tables: Sequence[Table]) -> bytes:
    """A PNG with one panel per table: each costed run's error against its cost per 250 items,
    the Pareto front joined and its points filled, the others hollow. A log cost axis when the
    costs span more than a factor of 20."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter, NullFormatter

    if not tables:
        raise ValueError("no table with two runs that carry a cost")
    metric = METRICS[RANK_BY]
    figure = Figure(figsize=(8, 5 * len(tables)), layout="constrained")
    FigureCanvasAgg(figure)
    for k, table in enumerate(tables, 1):
        axes = figure.add_subplot(len(tables), 1, k)
        rows = costed(table.rows)
        points = [(cost_per_250(r) or 0.0, r.values[RANK_BY]) for r in rows]
        front = pareto_front(points)
        on = set(front)
        xs, ys = zip(*points, strict=True)
        axes.scatter([x for i, x in enumerate(xs) if i not in on],
                     [y for i, y in enumerate(ys) if i not in on],
                     facecolors="none", edgecolors="#555", s=60, label="dominated")  # fmt: skip
        line = sorted(points[i] for i in front)
        axes.plot([p[0] for p in line], [p[1] for p in line], "-o", color="#c0392b", ms=8,
                  label="Pareto front")  # fmt: skip
        log = max(xs) > 20 * min(xs)
        if log:
            axes.set_xscale("log")
        axes.margins(x=0.1, y=0.1)
        axes.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"${v:g}"))
        axes.xaxis.set_minor_formatter(NullFormatter())
        middle = math.sqrt(min(xs) * max(xs)) if log else (min(xs) + max(xs)) / 2
        for row, (x, y) in zip(rows, points, strict=True):
            left = x > middle  # labels point inwards, so none leaves the panel
            axes.annotate(_label(row), (x, y), xytext=(-6 if left else 6, 4),
                          textcoords="offset points", fontsize=8, annotation_clip=False,
                          ha="right" if left else "left")  # fmt: skip
        axes.set_xlabel(HEADING)
        axes.set_ylabel(f"{metric.heading} (lower is better)")
        axes.set_title(_caption(table), fontsize=10)
        axes.grid(True, alpha=0.3)
        axes.legend(fontsize=8, loc="best")
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=96)
    return buffer.getvalue()


def write_png(board: Leaderboard, path: str | Path) -> Path:
    """``--format cost --output F.png``: the chart written to ``path``. PricebenchError when no
    table has two runs that carry a cost, or the file cannot be written."""
    from harness import results

    tables = charted_tables(board)
    if not tables:
        n = len(costed(board.rows()))
        raise PricebenchError(
            f"the cost chart needs two runs with a cost on one item set; the board has {n} run(s) "
            "with a cost (LLM predictors record one in metrics.json)"
        )
    data = chart_png(tables)
    try:
        return results.atomic_write(path, lambda f: f.write(data), binary=True)
    except OSError as exc:
        raise PricebenchError(
            f"cannot write {path}: {exc.strerror or exc}; give --output a file in a folder you "
            "can write"
        ) from None
