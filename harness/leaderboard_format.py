"""Leaderboard output: a rich console table, Markdown, CSV and one static HTML file.

Each table's metric columns are its edition's (:data:`harness.metrics.EDITIONS`); the CSV holds
every CI metric of every row, and each row's edition."""

from __future__ import annotations

import base64
import csv
import html
import io
from collections.abc import Sequence

from harness import results
from harness.leaderboard import COLUMNS, Leaderboard, Row, Run, Table
from harness.metrics import BREAKDOWN_METRICS, DEFAULT_EDITION, EDITIONS, METRICS
from harness.stats import breakdown


def headers(edition: str = DEFAULT_EDITION) -> tuple[str, ...]:
    """A table's column headings: its edition's metrics between the names and the counts."""
    return ("#", "predictor", "model", *(METRICS[name].heading for name in EDITIONS[edition]),
            "n", "unparseable", "cost", "date", "run")  # fmt: skip


HEADERS = headers()  # the 2024 edition's


def _ci(row: Row, name: str) -> str:
    value = row.values.get(name)
    if value is None:
        return ""
    metric = METRICS[name]
    text = metric.format(value)
    if name in row.sd:
        return f"{text} ± {metric.format(row.sd[name]).lstrip('$')}"
    if name in row.intervals:
        interval = row.intervals[name]
        return f"{text} [{metric.format(interval.low)}, {metric.format(interval.high)}]"
    return text


def cells(row: Row, metrics: Sequence[str] | None = None) -> list[str]:
    """A row as display text: values with 95% CIs (or mean ± sd), ties and reported rows marked;
    the metric columns are ``metrics`` (default: the row's edition's)."""
    metrics = EDITIONS[row.edition] if metrics is None else metrics
    rank = "" if row.rank is None else str(row.rank)
    if row.tie_with_leader == "yes":
        rank += " ≈"
    name = row.title if row.kind != "mean" else f"{row.title} (mean of {row.runs})"
    cost = "" if row.cost in (None, 0) else f"${row.cost:.4f}"
    unparseable = str(row.unparseable or 0) if row.kind != "reported" else ""
    return [
        rank, name, row.model or "", *(_ci(row, name) for name in metrics), str(row.n or ""),
        unparseable, cost, row.date or "", row.run or "",
    ]  # fmt: skip


def _all_rows(board: Leaderboard) -> list[Row]:
    return board.rows()


def caption(table: Table) -> str:
    """What a table holds, as its heading says it."""
    if table.edition == DEFAULT_EDITION:
        if table.ranked:
            return "pricebench leaderboard (canonical 250 items)"
        return f"other item set {str(table.fingerprint)[:12]} (not ranked)"
    return f"{table.edition} edition, item set {str(table.fingerprint)[:12]} (ranked on its own)"


LEGEND = (
    "≈: paired tests (Wilcoxon on errors, McNemar on hits) find no difference from the leader at "
    "5%, Holm-corrected over every run's two tests against the leader; [low, high]: 95% "
    "bootstrap confidence interval"
)


def legend(board: Leaderboard) -> list[str]:
    """The lines under the table: what ≈ and the intervals mean, then the board's notes."""
    return [LEGEND, *board.notes]


def _markdown_cell(text: str) -> str:
    """A cell's text that cannot end its row or cell: line breaks become spaces, ``|`` escaped."""
    return " ".join(text.splitlines()).replace("|", "\\|")


def markdown(board: Leaderboard) -> str:
    def table(t: Table) -> list[str]:
        heads = headers(t.edition)
        out = ["| " + " | ".join(heads) + " |", "|" + "---|" * len(heads)]
        for row in t.rows:
            out.append("| " + " | ".join(_markdown_cell(c) for c in cells(row, t.metrics)) + " |")
        return out

    lines: list[str] = []
    for t in board.tables():
        if t.edition == DEFAULT_EDITION and not t.ranked:
            lines += [
                "",
                f"Other item set (fingerprint {str(t.fingerprint)[:12]}), not ranked:",
                "",
            ]
        elif t.edition != DEFAULT_EDITION:
            lines += ["", f"{t.edition} edition, item set (fingerprint "
                      f"{str(t.fingerprint)[:12]}), ranked on its own:", ""]  # fmt: skip
        lines += table(t)
    if lines and not lines[0]:
        lines = lines[1:]  # no blank line before the first heading
    return "\n".join(lines + [""] + [f"- {note}" for note in legend(board)]) + "\n"


def to_csv(board: Leaderboard, columns: Sequence[str] = COLUMNS) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    for row in _all_rows(board):
        flat = row.columns()
        writer.writerow({k: ("" if flat.get(k) is None else flat[k]) for k in columns})
    return buffer.getvalue()


def rich_table(board: Leaderboard) -> None:
    """The board on the terminal. Every cell and title is a rich ``Text``, never markup: a run's
    title such as ``Widget [/bold] pro`` is shown as typed."""
    from rich.console import Console
    from rich.table import Table as RichTable
    from rich.text import Text

    console = Console()
    for t in board.tables():
        table = RichTable(title=Text(caption(t)))
        for header in headers(t.edition):
            table.add_column(Text(header), overflow="fold")
        for row in t.rows:
            style = "dim" if row.kind == "reported" else ("bold" if row.rank == 1 else "")
            table.add_row(*(Text(cell) for cell in cells(row, t.metrics)), style=style)
        console.print(table)
    for line in legend(board):
        console.print(line, style="dim", highlight=False, markup=False)


def to_html(board: Leaderboard) -> str:
    """One static page: the table, then each run's chart and price-band breakdown, all escaped."""
    esc = html.escape
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        "<title>pricebench leaderboard</title><style>body{font-family:sans-serif;margin:2em}",
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px}",
        ".reported{color:#777}</style></head><body><h1>pricebench leaderboard</h1>",
    ]

    def table(t: Table) -> None:
        heads = headers(t.edition)
        parts.append("<table><tr>" + "".join(f"<th>{esc(h)}</th>" for h in heads) + "</tr>")
        for row in t.rows:
            kind = ' class="reported"' if row.kind == "reported" else ""
            parts.append(
                f"<tr{kind}>"
                + "".join(f"<td>{esc(c)}</td>" for c in cells(row, t.metrics))
                + "</tr>"
            )
        parts.append("</table>")

    for t in board.tables():
        if t.edition == DEFAULT_EDITION and not t.ranked:
            parts.append(f"<h2>Other item set {esc(str(t.fingerprint)[:12])} (not ranked)</h2>")
        elif t.edition != DEFAULT_EDITION:
            parts.append(f"<h2>{esc(caption(t))}</h2>")
        table(t)
    parts += [f"<p>{esc(line)}</p>" for line in legend(board)]
    for row in _all_rows(board):
        if row.source is not None:
            parts += _run_section(row.title, row.source)
    parts.append("</body></html>")
    return "\n".join(parts)


def _run_section(title: str, run: Run) -> list[str]:
    """A run's chart, its breakdowns by price band (and category) and its largest errors."""
    esc = html.escape
    parts = [
        f"<h2>{esc(title)} — {esc(run.path.name)}</h2>",
        f"<p>{esc(str(run.metrics.get('summary_line', '')))}</p>",
    ]
    chart = run.path / results.CHART_FILE
    if chart.is_file():
        data = base64.b64encode(chart.read_bytes()).decode("ascii")
        parts.append(f"<img alt='truth vs guess' width='720' src='data:image/png;base64,{data}'>")
    groupings = [("price band", "band")]
    if any(r.get("category") for r in run.records):
        groupings.append(("category", "category"))
    shown = [METRICS[name] for name in BREAKDOWN_METRICS]
    for heading, by in groupings:
        parts.append(f"<table><tr><th>{heading}</th><th>n</th>"
                     + "".join(f"<th>{esc(m.heading)}</th>" for m in shown) + "</tr>")  # fmt: skip
        for group in breakdown(run.records, by=by):
            parts.append(
                f"<tr><td>{esc(str(group['group']))}</td><td>{group['n']}</td>"
                + "".join(f"<td>{esc(m.format(group[m.name]))}</td>" for m in shown)
                + "</tr>"
            )
        parts.append("</table>")
    worst = sorted(run.records, key=lambda r: -abs(r["guess"] - r["truth"]))[:5]
    parts.append("<p>largest errors:</p><ul>")
    for r in worst:
        truth, guess = f"${r['truth']:,.2f}", f"${r['guess']:,.2f}"
        parts.append(f"<li>{esc(str(r.get('title', '')))}: truth {truth}, guess {guess}</li>")
    parts.append("</ul>")
    return parts
