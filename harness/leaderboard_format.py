"""Leaderboard output: a rich console table, Markdown, CSV and one static HTML file.

Each table's metric columns are its edition's (:data:`harness.metrics.EDITIONS`); the CSV holds
every CI metric of every row, and each row's edition. The console and Markdown tables add the cost
per 250 items (:func:`harness.cost_chart.cost_per_250`); the CSV keeps its columns.

The HTML page's wrapper and style sheet (:func:`page`, :data:`CSS`) are shared with the other
pages (the compare page): a sticky header row, numbers right-aligned, the leader and the runs
tied with it marked, the reported rows set apart, images no wider than the window."""

from __future__ import annotations

import base64
import csv
import html
import io
from collections.abc import Sequence

from harness import cost_chart, results
from harness.leaderboard import COLUMNS, Leaderboard, Row, Run, Table
from harness.metrics import BREAKDOWN_METRICS, DEFAULT_EDITION, EDITIONS, METRICS
from harness.stats import breakdown


def headers(edition: str = DEFAULT_EDITION) -> tuple[str, ...]:
    """A table's column headings: its edition's metrics between the names and the counts."""
    return ("#", "predictor", "model", *(METRICS[name].heading for name in EDITIONS[edition]),
            "n", "unparseable", "cost", cost_chart.HEADING, "date", "run")  # fmt: skip


def numeric(edition: str = DEFAULT_EDITION) -> frozenset[int]:
    """The positions of a table's columns that hold numbers (shown right-aligned)."""
    heads = headers(edition)
    text = {"predictor", "model", "date", "run"}
    return frozenset(i for i, h in enumerate(heads) if h not in text)


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
    scaled = cost_chart.cost_per_250(row)
    per_250 = "" if scaled is None else f"${scaled:.4f}"
    unparseable = str(row.unparseable or 0) if row.kind != "reported" else ""
    return [
        rank, name, row.model or "", *(_ci(row, name) for name in metrics), str(row.n or ""),
        unparseable, cost, per_250, row.date or "", row.run or "",
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
        right = numeric(t.edition)
        for k, header in enumerate(headers(t.edition)):
            table.add_column(
                Text(header), overflow="fold", justify="right" if k in right else "left"
            )
        for row in t.rows:
            style = "dim" if row.kind == "reported" else ("bold" if row.rank == 1 else "")
            table.add_row(*(Text(cell) for cell in cells(row, t.metrics)), style=style)
        console.print(table)
    for line in legend(board):
        console.print(line, style="dim", highlight=False, markup=False)


CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:1em auto;
  max-width:1600px;padding:0 1em;color:#222;line-height:1.4}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:1.6em}
table{border-collapse:collapse;margin:.5em 0 1em;font-size:.9em}
td,th{border:1px solid #ddd;padding:4px 8px;vertical-align:top}
thead th{position:sticky;top:0;z-index:1;background:#f0f3f7;box-shadow:0 1px 0 #bbb}
th{text-align:left}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
table.board th:first-child,table.board th:nth-child(n+4):nth-last-child(n+3){text-align:right}
table.board{font-size:.85em}
table.board td:nth-last-child(2){white-space:nowrap}
table.board td:last-child{overflow-wrap:anywhere;min-width:8em;font-size:.9em;color:#444}
tr.leader td{font-weight:bold;background:#e6f4ea}
tr.tie td{background:#f3f9ee}
tr.reported td{color:#666;font-style:italic;background:#f6f6f6}
tr.reported td:first-child{border-left:3px solid #bbb}
img{max-width:100%;height:auto}
.legend{color:#555;font-size:.9em}
.key span{display:inline-block;padding:0 .5em;margin-right:.5em;border:1px solid #ddd}
"""
"""The style sheet of every pricebench HTML page."""


def page(title: str, body: Sequence[str]) -> str:
    """A whole HTML page: ``title`` (escaped here) as its title and heading, then ``body``, parts
    of HTML already escaped by the caller, one per line."""
    esc = html.escape
    head = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        f"<title>{esc(title)}</title><style>{CSS}</style></head><body>",
        f"<h1>{esc(title)}</h1>",
    ]
    return "\n".join([*head, *body, "</body></html>"])


def row_class(row: Row) -> str:
    """A table row's class on the page: leader, tie (≈ the leader), reported, or none."""
    if row.kind == "reported":
        return "reported"
    if row.tie_with_leader == "leader" or (row.tie_with_leader is None and row.rank == 1):
        return "leader"
    return "tie" if row.tie_with_leader == "yes" else ""


def html_table(t: Table) -> str:
    """One board table as HTML: a header row that stays in view, numbers right-aligned, each
    row's class from :func:`row_class`; every cell escaped."""
    esc = html.escape
    right = numeric(t.edition)

    def cls(k: int) -> str:
        return ' class="num"' if k in right else ""

    # the headings are plain <th>: the style sheet right-aligns the numeric ones by position
    heads = "".join(f"<th>{esc(h)}</th>" for h in headers(t.edition))
    lines = [f"<table class='board'><thead><tr>{heads}</tr></thead><tbody>"]
    for row in t.rows:
        kind = row_class(row)
        attr = f' class="{kind}"' if kind else ""
        tds = "".join(f"<td{cls(k)}>{esc(c)}</td>" for k, c in enumerate(cells(row, t.metrics)))
        lines.append(f"<tr{attr}>{tds}</tr>")
    lines.append("</tbody></table>")
    return "\n".join(lines)


KEY = (
    "<p class='key'><span style='background:#e6f4ea;font-weight:bold'>leader"
    "</span><span style='background:#f3f9ee'>≈ tied with the leader</span>"
    "<span style='background:#f6f6f6;color:#666;font-style:italic'>reported (the course's "
    "published figures)</span></p>"
)


def _cost_section(board: Leaderboard) -> list[str]:
    """The error-against-cost chart, when a table has two runs that carry a cost; else nothing."""
    tables = cost_chart.charted_tables(board)
    if not tables:
        return []
    data = base64.b64encode(cost_chart.chart_png(tables)).decode("ascii")
    return [
        "<h2 id='cost'>Error against cost</h2>",
        f"<p class='legend'>Each run that records a cost, at its cost per "
        f"{cost_chart.PER_ITEMS} items; the Pareto front (no run both cheaper and more "
        "accurate) joined in red.</p>",
        "<img class='cost-chart' alt='error against cost per run, Pareto front marked' "
        f"width='768' src='data:image/png;base64,{data}'>",
    ]


def to_html(board: Leaderboard) -> str:
    """One static page: the tables, the error-against-cost chart (when two runs carry a cost),
    then each run's chart and price-band breakdown, all escaped."""
    esc = html.escape
    parts: list[str] = [KEY]
    for t in board.tables():
        if t.edition == DEFAULT_EDITION and not t.ranked:
            parts.append(f"<h2>Other item set {esc(str(t.fingerprint)[:12])} (not ranked)</h2>")
        elif t.edition != DEFAULT_EDITION:
            parts.append(f"<h2>{esc(caption(t))}</h2>")
        parts.append(html_table(t))
    parts += [f"<p>{esc(line)}</p>" for line in legend(board)]
    parts += _cost_section(board)
    for row in _all_rows(board):
        if row.source is not None:
            parts += _run_section(row.title, row.source)
    return page("pricebench leaderboard", parts)


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
        parts.append(f"<table><thead><tr><th>{heading}</th><th class='num'>n</th>"
                     + "".join(f"<th class='num'>{esc(m.heading)}</th>" for m in shown)
                     + "</tr></thead><tbody>")  # fmt: skip
        for group in breakdown(run.records, by=by):
            parts.append(
                f"<tr><td>{esc(str(group['group']))}</td><td class='num'>{group['n']}</td>"
                + "".join(f"<td class='num'>{esc(m.format(group[m.name]))}</td>" for m in shown)
                + "</tr>"
            )
        parts.append("</tbody></table>")
    worst = sorted(run.records, key=lambda r: -abs(r["guess"] - r["truth"]))[:5]
    parts.append("<p>largest errors:</p><ul>")
    for r in worst:
        truth, guess = f"${r['truth']:,.2f}", f"${r['guess']:,.2f}"
        parts.append(f"<li>{esc(str(r.get('title', '')))}: truth {truth}, guess {guess}</li>")
    parts.append("</ul>")
    return parts
