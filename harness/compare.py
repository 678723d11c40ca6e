"""Two runs item by item, and the regression gate (pure functions over their records).

Inputs are each run's per-item records as stored in ``predictions.jsonl`` (dicts with ``index``,
``truth``, ``guess`` and optionally ``title`` and ``category``). Items are joined by ``index``;
per-item errors and hits are re-derived from truth and guess with :func:`harness.metrics.score`,
so the course's scoring (clipping included) is the only one. :func:`compare_items` says *where*
two runs differ: the items only one of them hits, the items their errors differ most on, and
each price band and category with both errors and who wins. :func:`gate` says whether a new run
is significantly worse than a base run on one metric, with the paired test that fits it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from harness.metrics import (
    METRICS,
    PRICE_BANDS,
    absolute_error,
    is_hit,
    score,
    squared_error,
    squared_log_error,
)
from harness.stats import mcnemar_p, wilcoxon_p

__all__ = [
    "GATE_METRICS",
    "GroupRow",
    "Item",
    "ItemComparison",
    "Verdict",
    "compare_items",
    "gate",
]

Records = Sequence[Mapping[str, Any]]
Winner = Literal["A", "B", "tie"]

WILCOXON = "Wilcoxon signed-rank"
MCNEMAR = "McNemar exact"
# The metrics the gate can judge: metric -> (the paired test, what it tests per item). Metrics
# that are a mean (or median) of a per-item loss get Wilcoxon's test on that loss; R² on the same
# items is a decreasing function of the mean squared error, so it gets the squared errors; the
# hit rate gets McNemar's test on hits.
_PerItem = Callable[[np.ndarray, np.ndarray], np.ndarray]
_GATE_TESTS: dict[str, tuple[str, str, _PerItem | None]] = {
    "error": (WILCOXON, "absolute errors", absolute_error),
    "median_error": (WILCOXON, "absolute errors", absolute_error),
    "rmsle": (WILCOXON, "squared log errors", squared_log_error),
    "mse": (WILCOXON, "squared errors", squared_error),
    "r2": (WILCOXON, "squared errors", squared_error),
    "hit_rate": (MCNEMAR, "hits", None),
    "share_green": (MCNEMAR, "hits", None),
}
GATE_METRICS = tuple(_GATE_TESTS)


@dataclass(frozen=True, slots=True)
class Item:
    """One shared item, as both runs scored it."""

    index: int
    title: str
    category: str
    truth: float
    guess_a: float
    guess_b: float
    error_a: float
    error_b: float
    hit_a: bool
    hit_b: bool

    @property
    def gap(self) -> float:
        """How much more A's error is than B's (below 0: A is closer)."""
        return self.error_a - self.error_b


@dataclass(frozen=True, slots=True)
class GroupRow:
    """A price band or category: its items, both runs' mean absolute errors and who wins."""

    group: str
    n: int
    error_a: float
    error_b: float

    @property
    def diff(self) -> float:
        """Error of A minus error of B (below 0: A is better)."""
        return self.error_a - self.error_b

    @property
    def winner(self) -> Winner:
        if np.isclose(self.error_a, self.error_b, rtol=0, atol=1e-9):
            return "tie"
        return "A" if self.error_a < self.error_b else "B"


@dataclass(frozen=True, slots=True)
class ItemComparison:
    """Where two runs differ, on the items both scored."""

    items: tuple[Item, ...]  # every shared item, in index order
    a_only: tuple[Item, ...]  # hit by A only, B's largest errors first
    b_only: tuple[Item, ...]  # hit by B only, A's largest errors first
    most_disagreed: tuple[Item, ...]  # the largest |error A - error B| first
    bands: tuple[GroupRow, ...]  # PRICE_BANDS order, empty bands left out
    categories: tuple[GroupRow, ...]  # most items first, ties alphabetical

    @property
    def n(self) -> int:
        return len(self.items)


def _by_index(records: Records, name: str) -> dict[int, Mapping[str, Any]]:
    out: dict[int, Mapping[str, Any]] = {}
    for position, record in enumerate(records):
        index = int(record.get("index", position))
        if index in out:
            raise ValueError(f"run {name} has item index {index} more than once")
        out[index] = record
    return out


def shared_items(a_records: Records, b_records: Records) -> tuple[Item, ...]:
    """The items both runs scored, joined by index, in index order. ValueError when they share
    none or disagree on a shared item's true price (different test sets)."""
    a, b = _by_index(a_records, "A"), _by_index(b_records, "B")
    indices = sorted(a.keys() & b.keys())
    if not indices:
        raise ValueError("the two runs share no item index: they cannot be compared item by item")
    truth = np.array([float(a[i]["truth"]) for i in indices])
    truth_b = np.array([float(b[i]["truth"]) for i in indices])
    differ = ~np.isclose(truth, truth_b, rtol=1e-9, atol=1e-6)
    if differ.any():
        k = int(np.argmax(differ))
        raise ValueError(
            f"the runs disagree on the true price of {int(differ.sum())} shared item(s) (first: "
            f"index {indices[k]}, {truth[k]} vs {truth_b[k]}): they were scored on different "
            "test sets; compare only runs on the same data"
        )
    sa = score(truth, [float(a[i]["guess"]) for i in indices])
    sb = score(truth, [float(b[i]["guess"]) for i in indices])
    hit_a, hit_b = is_hit(truth, sa.guess), is_hit(truth, sb.guess)

    def text(i: int, key: str, default: str) -> str:
        return str(a[i].get(key) or b[i].get(key) or default)

    return tuple(
        Item(index=i, title=text(i, "title", ""), category=text(i, "category", "unknown"),
             truth=float(truth[k]), guess_a=float(sa.guess[k]), guess_b=float(sb.guess[k]),
             error_a=float(sa.error[k]), error_b=float(sb.error[k]),
             hit_a=bool(hit_a[k]), hit_b=bool(hit_b[k]))
        for k, i in enumerate(indices)
    )  # fmt: skip


def _group(name: str, members: Sequence[Item]) -> GroupRow:
    return GroupRow(
        group=name,
        n=len(members),
        error_a=float(np.mean([m.error_a for m in members])),
        error_b=float(np.mean([m.error_b for m in members])),
    )


def compare_items(a_records: Records, b_records: Records, top: int = 10) -> ItemComparison:
    """Run A against run B item by item on their shared items (see :class:`ItemComparison`).

    ``most_disagreed`` holds the ``top`` items with the largest absolute difference between the
    two runs' absolute errors (ties: lower index first). Price bands are those of
    :data:`harness.metrics.PRICE_BANDS` by true price."""
    if top < 0:
        raise ValueError(f"top must be 0 or more, not {top}")
    items = shared_items(a_records, b_records)
    a_only = sorted(
        (i for i in items if i.hit_a and not i.hit_b), key=lambda i: (-i.error_b, i.index)
    )
    b_only = sorted(
        (i for i in items if i.hit_b and not i.hit_a), key=lambda i: (-i.error_a, i.index)
    )
    disagreed = sorted(items, key=lambda i: (-abs(i.gap), i.index))[:top]
    bands = [
        _group(label, members)
        for label, low, high in PRICE_BANDS
        if (members := [i for i in items if low <= i.truth < high])
    ]
    names = sorted({i.category for i in items})
    groups = [(c, [i for i in items if i.category == c]) for c in names]
    groups.sort(key=lambda pair: -len(pair[1]))  # stable: ties stay alphabetical
    return ItemComparison(
        items=items,
        a_only=tuple(a_only),
        b_only=tuple(b_only),
        most_disagreed=tuple(disagreed),
        bands=tuple(bands),
        categories=tuple(_group(c, members) for c, members in groups),
    )


@dataclass(frozen=True, slots=True)
class Verdict:
    """The gate's answer: is NEW significantly worse than BASE on ``metric``?"""

    metric: str
    base: float  # the metric of BASE on the shared items
    new: float  # the metric of NEW on the shared items
    n: int
    test: str  # "Wilcoxon signed-rank on absolute errors", "McNemar exact on hits", ...
    p: float
    alpha: float

    @property
    def worse(self) -> bool:
        """NEW is worse on the metric (the registry's direction) and the test rejects "no
        difference" at ``alpha`` (two-sided)."""
        higher = METRICS[self.metric].higher_is_better
        direction_worse = self.new < self.base if higher else self.new > self.base
        return bool(direction_worse and self.p < self.alpha)

    def line(self) -> str:
        """The verdict in one line, e.g. ``gate: FAIL: NEW is worse than BASE on error ...``."""
        m = METRICS[self.metric]
        figures = f"{m.format(self.new)} vs {m.format(self.base)}, {self.test} p = {self.p:.3g}"
        if self.worse:
            head = f"gate: FAIL: NEW is worse than BASE on {self.metric}"
            tail = f"< alpha {self.alpha:g}"
        elif self.p < self.alpha and self.new != self.base:
            head = f"gate: pass: NEW is better than BASE on {self.metric}"
            tail = f"< alpha {self.alpha:g}"
        else:
            head = f"gate: pass: NEW is not significantly worse than BASE on {self.metric}"
            tail = f"alpha {self.alpha:g}"
        return f"{head} ({figures}, {tail}; {self.n} shared items)"


def gate(
    base_records: Records, new_records: Records, metric: str = "error", alpha: float = 0.05
) -> Verdict:
    """Judge NEW against BASE on ``metric`` over their shared items with the paired test that
    fits it (:data:`GATE_METRICS`): Wilcoxon's signed-rank test on the per-item loss the metric
    averages, or McNemar's exact test on hits for the hit rate. ValueError for a metric the gate
    cannot judge, an ``alpha`` outside (0, 1), or runs that cannot be compared."""
    if metric not in _GATE_TESTS:
        raise ValueError(f"the gate cannot judge {metric!r}: use one of {', '.join(GATE_METRICS)}")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be between 0 and 1 (e.g. 0.05), not {alpha}")
    items = shared_items(base_records, new_records)
    truth = np.array([i.truth for i in items])
    base = np.array([i.guess_a for i in items])
    new = np.array([i.guess_b for i in items])
    test, of, per_item = _GATE_TESTS[metric]
    if per_item is None:
        hit_base, hit_new = is_hit(truth, base), is_hit(truth, new)
        p = mcnemar_p(int(np.sum(hit_base & ~hit_new)), int(np.sum(~hit_base & hit_new)))
    else:
        p = wilcoxon_p(per_item(truth, base), per_item(truth, new))
    return Verdict(
        metric=metric,
        base=float(METRICS[metric](truth, base)),
        new=float(METRICS[metric](truth, new)),
        n=len(items),
        test=f"{test} on {of}",
        p=float(p),
        alpha=float(alpha),
    )


# ---------------------------------------------------------------------------------------------
# Rendering: the item-level sections of ``pricebench-leaderboard --compare`` as text, Markdown,
# CSV and HTML. Only what the records hold is shown; every title is escaped where it needs to be.

TOP_FLIPS = 5  # items listed under "hit by A only" and "hit by B only"
TITLE_WIDTH = 60  # a title's characters in the text table


def _money(value: float) -> str:
    return f"${value:,.2f}"


def _signed_money(value: float) -> str:
    return f"{'-' if value < 0 else '+'}${abs(value):,.2f}"


def _short(title: str, width: int = TITLE_WIDTH) -> str:
    title = " ".join(title.split())
    return title if len(title) <= width else title[: width - 1] + "…"


def _md(text: str) -> str:
    return " ".join(text.splitlines()).replace("|", "\\|")


def _item_cells(item: Item) -> list[str]:
    return [str(item.index), _money(item.truth), _money(item.guess_a), _money(item.guess_b),
            _signed_money(item.gap)]  # fmt: skip


_ITEM_HEADS = ["index", "truth", "A guess", "B guess", "A - B error"]
_GROUP_HEADS = ["n", "A error", "B error", "A - B", "winner"]


def _group_cells(row: GroupRow) -> list[str]:
    return [str(row.n), _money(row.error_a), _money(row.error_b), _signed_money(row.diff),
            row.winner]  # fmt: skip


def _text_table(
    heads: Sequence[str], rows: Sequence[Sequence[str]], left: int = 1, title_last: bool = False
) -> list[str]:
    """A plain aligned table: the first ``left`` columns (and the last when ``title_last``)
    left-aligned, the rest right-aligned."""
    widths = [max(len(r[k]) for r in [heads, *rows]) for k in range(len(heads))]

    def line(cells: Sequence[str]) -> str:
        last = len(cells) - 1  # a title, last, is text too
        return "  ".join(
            c.ljust(w) if k < left or k == last and title_last else c.rjust(w)
            for k, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    return [line(heads), *(line(r) for r in rows)]


def text_sections(c: ItemComparison) -> list[str]:
    """The item-level part of the comparison as plain text lines."""
    lines = [f"items hit by one run only: A only {len(c.a_only)}, B only {len(c.b_only)}"]
    for who, other, flips in (("A", "B", c.a_only), ("B", "A", c.b_only)):
        if flips:
            lines.append(f"hit by {who} only, {other}'s largest errors first:")
            rows = [[*_item_cells(i), _short(i.title)] for i in flips[:TOP_FLIPS]]
            lines += _text_table([*_ITEM_HEADS, "title"], rows, title_last=True)
    lines.append(f"the {len(c.most_disagreed)} items the runs' errors differ most on:")
    rows = [[*_item_cells(i), _short(i.title)] for i in c.most_disagreed]
    lines += _text_table([*_ITEM_HEADS, "title"], rows, title_last=True)
    for heading, groups in (("price band", c.bands), ("category", c.categories)):
        lines.append(f"by {heading} (mean absolute error):")
        lines += _text_table(
            [heading, *_GROUP_HEADS], [[g.group, *_group_cells(g)] for g in groups]
        )
    return lines


def _md_table(heads: Sequence[str], rows: Sequence[Sequence[str]], left: int = 1) -> list[str]:
    align = ["---" if k < left else "--:" for k in range(len(heads))]
    return ["| " + " | ".join(heads) + " |", "| " + " | ".join(align) + " |",
            *("| " + " | ".join(_md(x) for x in r) + " |" for r in rows)]  # fmt: skip


def markdown_sections(c: ItemComparison) -> list[str]:
    """The item-level part of the comparison as Markdown (headings and tables)."""
    lines = ["## Items hit by one run only", "",
             f"A only: {len(c.a_only)}, B only: {len(c.b_only)}"]  # fmt: skip
    for who, other, flips in (("A", "B", c.a_only), ("B", "A", c.b_only)):
        if flips:
            lines += ["", f"Hit by {who} only, {other}'s largest errors first:", ""]
            rows = [[i.title, *_item_cells(i)] for i in flips[:TOP_FLIPS]]
            lines += _md_table(["title", *_ITEM_HEADS], rows, left=1)
    lines += ["", f"## The {len(c.most_disagreed)} items the runs' errors differ most on", ""]
    rows = [[i.title, *_item_cells(i)] for i in c.most_disagreed]
    lines += _md_table(["title", *_ITEM_HEADS], rows)
    for heading, groups in (("price band", c.bands), ("category", c.categories)):
        lines += ["", f"## By {heading} (mean absolute error)", ""]
        lines += _md_table([heading, *_GROUP_HEADS], [[g.group, *_group_cells(g)] for g in groups])
    return lines


CSV_COLUMNS = ("index", "title", "category", "truth", "guess_a", "guess_b", "error_a", "error_b",
               "hit_a", "hit_b")  # fmt: skip


def to_csv(c: ItemComparison) -> str:
    """Every shared item, one row each: both guesses, errors and hits."""
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for i in c.items:
        errors = [round(i.error_a, 6), round(i.error_b, 6)]
        writer.writerow([i.index, i.title, i.category, i.truth, i.guess_a, i.guess_b, *errors,
                         int(i.hit_a), int(i.hit_b)])  # fmt: skip
    return buffer.getvalue()


def error_scatter_png(c: ItemComparison, label_a: str, label_b: str) -> bytes:
    """A PNG: each shared item at (A's absolute error, B's), coloured by which run hits it, with
    the y = x line (below it A is worse, above it B is)."""
    import io

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(7, 7))
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    ea = np.array([i.error_a for i in c.items])
    eb = np.array([i.error_b for i in c.items])
    top = float(max(ea.max(), eb.max(), 1.0)) * 1.05
    axes.plot([0, top], [0, top], color="deepskyblue", lw=1.5, alpha=0.7)
    kinds = (
        ("both hit", "green", [i.hit_a and i.hit_b for i in c.items]),
        ("A only hits", "tab:blue", [i.hit_a and not i.hit_b for i in c.items]),
        ("B only hits", "tab:orange", [i.hit_b and not i.hit_a for i in c.items]),
        ("neither hits", "red", [not (i.hit_a or i.hit_b) for i in c.items]),
    )
    for name, colour, mask in kinds:
        m = np.array(mask, dtype=bool)
        if m.any():
            axes.scatter(ea[m], eb[m], s=9, c=colour, label=f"{name} ({int(m.sum())})")
    axes.set_xlim(0, top)
    axes.set_ylim(0, top)
    axes.set_xlabel(f"A: {label_a} — absolute error ($)", parse_math=False)
    axes.set_ylabel(f"B: {label_b} — absolute error ($)", parse_math=False)
    axes.set_title("absolute error per item, A against B", parse_math=False)
    axes.legend(loc="upper left")
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=80, bbox_inches="tight")
    return buffer.getvalue()


def _html_table(heads: Sequence[str], rows: Sequence[Sequence[str]], left: int = 1) -> str:
    import html

    esc = html.escape

    def cls(k: int) -> str:
        return "" if k < left else " class='num'"

    head = "".join(f"<th{cls(k)}>{esc(h)}</th>" for k, h in enumerate(heads))
    body = "".join(
        "<tr>" + "".join(f"<td{cls(k)}>{esc(x)}</td>" for k, x in enumerate(r)) + "</tr>"
        for r in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _img(data: bytes, alt: str) -> str:
    import base64
    import html

    encoded = base64.b64encode(data).decode("ascii")
    return f"<img alt='{html.escape(alt)}' src='data:image/png;base64,{encoded}'>"


def to_html(
    c: ItemComparison,
    label_a: str,
    label_b: str,
    summary: Sequence[str],
    charts: tuple[bytes | None, bytes | None] = (None, None),
    scatter: bytes | None = None,
) -> str:
    """The comparison page: ``summary`` (the paired figures, one line each), both runs' truth
    against guess charts side by side, the scatter of A's error against B's per item, then the
    item-level tables. Images are embedded as data URIs, so the page is one file."""
    import html

    from harness.leaderboard_format import page

    esc = html.escape
    body = [f"<p><b>A</b>: {esc(label_a)}<br><b>B</b>: {esc(label_b)}</p>",
            "<pre>" + esc("\n".join(summary)) + "</pre>"]  # fmt: skip
    side = [
        f"<figure style='flex:1 1 420px;margin:0'>{_img(chart, f'{who}: truth vs guess')}"
        f"<figcaption>{who}: {esc(label)}</figcaption></figure>"
        for who, label, chart in (("A", label_a, charts[0]), ("B", label_b, charts[1]))
        if chart is not None
    ]
    if side:
        row = "<div style='display:flex;flex-wrap:wrap;gap:1em'>" + "".join(side) + "</div>"
        body += ["<h2>Truth against guess</h2>", row]
    if scatter is not None:
        image = _img(scatter, "A error vs B error")
        body += ["<h2>Absolute error per item, A against B</h2>",
                 f"<div style='max-width:620px'>{image}</div>"]  # fmt: skip
    body += ["<h2>Items hit by one run only</h2>",
             f"<p>A only: {len(c.a_only)}, B only: {len(c.b_only)}</p>"]  # fmt: skip
    for who, other, flips in (("A", "B", c.a_only), ("B", "A", c.b_only)):
        if flips:
            body.append(f"<p>Hit by {who} only, {other}'s largest errors first:</p>")
            rows = [[i.title, *_item_cells(i)] for i in flips[:TOP_FLIPS]]
            body.append(_html_table(["title", *_ITEM_HEADS], rows))
    body.append(f"<h2>The {len(c.most_disagreed)} items the runs' errors differ most on</h2>")
    rows = [[i.title, *_item_cells(i)] for i in c.most_disagreed]
    body.append(_html_table(["title", *_ITEM_HEADS], rows))
    for heading, groups in (("price band", c.bands), ("category", c.categories)):
        body.append(f"<h2>By {heading} (mean absolute error)</h2>")
        body.append(
            _html_table([heading, *_GROUP_HEADS], [[g.group, *_group_cells(g)] for g in groups])
        )
    return page("pricebench comparison", body)
