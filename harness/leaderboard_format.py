"""Leaderboard output: a rich console table, Markdown, CSV and one static HTML file."""

from __future__ import annotations

import base64
import csv
import html
import io
from typing import Any

from harness import results

HEADERS = ("#", "predictor", "model", "error", "RMSLE", "hits", "n", "unparseable", "cost",
           "date", "run")  # fmt: skip


def _ci(row: dict[str, Any], name: str, fmt: str) -> str:
    value = row.get(name)
    if value is None:
        return ""
    text = fmt.format(value)
    if row.get(f"{name}_sd") is not None:
        return f"{text} ± {fmt.format(row[f'{name}_sd']).lstrip('$')}"
    if row.get(f"{name}_low") is not None:
        return f"{text} [{fmt.format(row[f'{name}_low'])}, {fmt.format(row[f'{name}_high'])}]"
    return text


def cells(row: dict[str, Any]) -> list[str]:
    """A row as display text: values with 95% CIs (or mean ± sd), ties and reported rows marked."""
    rank = "" if row.get("rank") is None else str(row["rank"])
    if row.get("tie_with_leader") == "yes":
        rank += " ≈"
    name = row["title"] if row["kind"] != "mean" else f"{row['title']} (mean of {row['runs']})"
    cost = "" if row.get("cost") in (None, 0) else f"${row['cost']:.4f}"
    return [
        rank, name, str(row.get("model") or ""), _ci(row, "error", "${:,.2f}"),
        _ci(row, "rmsle", "{:.2f}"), _ci(row, "hit_rate", "{:.1%}"), str(row.get("n") or ""),
        str(row.get("unparseable") or 0) if row["kind"] != "reported" else "", cost,
        str(row.get("date") or ""), str(row.get("run") or ""),
    ]  # fmt: skip


def legend(board: Any) -> list[str]:
    lines = ["≈: a paired test (Wilcoxon on errors, McNemar on hits) finds no difference from the "
             "leader at 5%; [low, high]: 95% bootstrap confidence interval"]  # fmt: skip
    return lines + board.notes


def markdown(board: Any) -> str:
    def table(rows: list[dict[str, Any]]) -> list[str]:
        out = ["| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]
        for row in rows:
            out.append("| " + " | ".join(c.replace("|", "\\|") for c in cells(row)) + " |")
        return out

    lines = table(board.ranked)
    for fingerprint, rows in board.others.items():
        lines += ["", f"Other item set (fingerprint {str(fingerprint)[:12]}), not ranked:", ""]
        lines += table(rows)
    return "\n".join(lines + [""] + [f"- {note}" for note in legend(board)]) + "\n"


def to_csv(board: Any, columns: tuple[str, ...]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    for row in board.ranked + [r for rows in board.others.values() for r in rows]:
        writer.writerow({k: ("" if row.get(k) is None else row.get(k)) for k in columns})
    return buffer.getvalue()


def rich_table(board: Any) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    for title, rows in [("pricebench leaderboard (canonical 250 items)", board.ranked)] + [
        (f"other item set {str(f)[:12]} (not ranked)", r) for f, r in board.others.items()
    ]:
        table = Table(title=title)
        for header in HEADERS:
            table.add_column(header, overflow="fold")
        for row in rows:
            style = "dim" if row["kind"] == "reported" else ("bold" if row.get("rank") == 1 else "")
            table.add_row(*cells(row), style=style)
        console.print(table)
    for line in legend(board):
        console.print(line, style="dim", highlight=False, markup=False)


def to_html(board: Any) -> str:
    """One static page: the table, then each run's chart and price-band breakdown, all escaped."""
    from harness.stats import breakdown

    esc = html.escape
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        "<title>pricebench leaderboard</title><style>body{font-family:sans-serif;margin:2em}",
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px}",
        ".reported{color:#777}</style></head><body><h1>pricebench leaderboard</h1>",
    ]

    def table(rows: list[dict[str, Any]]) -> None:
        parts.append("<table><tr>" + "".join(f"<th>{esc(h)}</th>" for h in HEADERS) + "</tr>")
        for row in rows:
            kind = ' class="reported"' if row["kind"] == "reported" else ""
            parts.append(
                f"<tr{kind}>" + "".join(f"<td>{esc(c)}</td>" for c in cells(row)) + "</tr>"
            )
        parts.append("</table>")

    table(board.ranked)
    for fingerprint, rows in board.others.items():
        parts.append(f"<h2>Other item set {esc(str(fingerprint)[:12])} (not ranked)</h2>")
        table(rows)
    parts += [f"<p>{esc(line)}</p>" for line in legend(board)]
    for row in board.ranked + [r for rows in board.others.values() for r in rows]:
        run = row.get("_run")
        if run is None:
            continue
        parts.append(f"<h2>{esc(str(row['title']))} — {esc(run.path.name)}</h2>")
        parts.append(f"<p>{esc(str(run.metrics.get('summary_line', '')))}</p>")
        chart = run.path / results.CHART_FILE
        if chart.is_file():
            data = base64.b64encode(chart.read_bytes()).decode("ascii")
            parts.append(
                f"<img alt='truth vs guess' width='720' src='data:image/png;base64,{data}'>"
            )
        groupings = [("price band", "band")]
        if any(r.get("category") for r in run.records):
            groupings.append(("category", "category"))
        for heading, by in groupings:
            parts.append(f"<table><tr><th>{heading}</th><th>n</th><th>error</th><th>hits</th>"
                         "<th>bias</th></tr>")  # fmt: skip
            for group in breakdown(run.records, by=by):
                parts.append(
                    f"<tr><td>{esc(str(group['group']))}</td><td>{group['n']}</td>"
                    f"<td>${group['error']:,.2f}</td><td>{group['hit_rate']:.1%}</td>"
                    f"<td>{group['bias']:+,.2f}</td></tr>"
                )
            parts.append("</table>")
        worst = sorted(run.records, key=lambda r: -r["error"])[:5]
        parts.append("<p>largest errors:</p><ul>")
        for r in worst:
            truth, guess = f"${r['truth']:,.2f}", f"${r['guess']:,.2f}"
            parts.append(f"<li>{esc(str(r['title']))}: truth {truth}, guess {guess}</li>")
        parts.append("</ul>")
    parts.append("</body></html>")
    return "\n".join(parts)
