"""``pricebench-leaderboard [--results DIR] [--format table|markdown|csv|html|cost] [--output FILE]
[--aggregate latest|mean] [--compare RUN_A RUN_B [--alpha A] [--fail-if-worse [--metric M]]]``:
the command line of :mod:`harness.leaderboard` and of :mod:`harness.compare`.

``--compare A B`` prints the paired figures and where the runs differ item by item (text,
Markdown, CSV of every shared item, or an HTML page with charts); ``--fail-if-worse`` makes it a
regression gate: exit 1 when B (NEW) is significantly worse than A (BASE), 0 otherwise, with the
verdict as the last line of standard output.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from harness import compare as cmp
from harness import cost_chart, results
from harness import leaderboard_format as fmt
from harness.errors import PricebenchError
from harness.leaderboard import Run, build, find_run, load_runs
from harness.metrics import CI_METRICS, EDITIONS, METRICS
from harness.stats import paired_comparison

PROG = "pricebench-leaderboard"
MAX_BOOTSTRAP = 100_000


def warn(message: str) -> None:
    """One warning line on stderr, beside the board: something was left out or is suspect."""
    print(f"{PROG}: warning: {message}", file=sys.stderr, flush=True)


def compare_lines(a: Run, b: Run, n_boot: int = 2000, alpha: float = 0.05) -> list[str]:
    """The paired comparison of two runs on their shared items: figures, intervals and tests."""
    if a.edition != b.edition:
        warn(f"the runs follow different editions ({a.edition} and {b.edition}); comparing "
             "shared items on every metric of both")  # fmt: skip
    elif a.metrics.get("fingerprint") != b.metrics.get("fingerprint"):
        warn("the runs scored different item sets; comparing shared items")
    shown = EDITIONS[a.edition] if a.edition == b.edition else CI_METRICS
    try:
        c = paired_comparison(a.records, b.records, n_boot=n_boot)
    except ValueError as exc:
        raise PricebenchError(str(exc)) from None
    lines = [f"A: {a.metrics.get('summary_line')}  ({a.path.name})",
             f"B: {b.metrics.get('summary_line')}  ({b.path.name})",
             f"shared items: {c.n}", "difference A - B, with 95% bootstrap CI:"]  # fmt: skip
    for name in shown:
        d, diff = c.diff[name], METRICS[name].diff_fmt
        lines.append(
            f"  {name:9s} {diff.format(d.point)}  [{diff.format(d.low)}, {diff.format(d.high)}]"
        )
    lines += [
        f"Wilcoxon signed-rank on absolute errors: p = {c.wilcoxon_p:.3g}",
        f"McNemar exact on hits: p = {c.mcnemar_p:.3g} (A only: {c.a_only_hits}, "
        f"B only: {c.b_only_hits})",
        "verdict: "
        + ("different" if c.significant(alpha) else "no difference")
        + f" at {alpha * 100:g}% (the two tests Holm-corrected)",
    ]
    return lines


def compare_text(a: Run, b: Run, n_boot: int = 2000, alpha: float = 0.05) -> str:
    """The paired comparison of two runs in full: figures, tests and the item-level sections."""
    lines = compare_lines(a, b, n_boot, alpha)
    return "\n".join([*lines, *cmp.text_sections(_items(a, b))]) + "\n"


def _label(run: Run) -> str:
    return f"{run.metrics.get('title') or run.path.name} ({run.path.name})"


def _items(a: Run, b: Run) -> cmp.ItemComparison:
    try:
        return cmp.compare_items(a.records, b.records)
    except ValueError as exc:
        raise PricebenchError(str(exc)) from None


def compare_output(a: Run, b: Run, form: str, alpha: float = 0.05) -> str:
    """``--compare`` in ``form``: text (``table``), ``markdown``, ``csv`` (every shared item) or
    ``html`` (one page with both runs' charts and the error-against-error scatter)."""
    if form == "table":
        return compare_text(a, b, alpha=alpha)
    items = _items(a, b)
    if form == "csv":
        return cmp.to_csv(items)
    summary = compare_lines(a, b, alpha=alpha)
    if form == "markdown":
        head = ["# pricebench comparison", "", "```", *summary, "```", ""]
        return "\n".join([*head, *cmp.markdown_sections(items)]) + "\n"
    charts = tuple(_chart(run) for run in (a, b))
    scatter = cmp.error_scatter_png(items, _label(a), _label(b))
    return cmp.to_html(items, _label(a), _label(b), summary, (charts[0], charts[1]), scatter)


def _chart(run: Run) -> bytes | None:
    chart = run.path / results.CHART_FILE
    try:
        return chart.read_bytes() if chart.is_file() else None
    except OSError:
        return None


class _Parser(argparse.ArgumentParser):
    """argparse, with a usage error in one line (``pricebench-leaderboard: error: ...``, exit 2)
    like every other error of the command."""

    def error(self, message: str) -> NoReturn:
        print(f"{PROG}: error: {message} (see {PROG} --help)", file=sys.stderr)
        sys.exit(2)


def parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog=PROG,
        description="Rank the runs in a results folder by error, with 95%% bootstrap CIs, paired "
        "tests against the leader and the course's published numbers.",
    )
    p.add_argument("--results", default="results", help="the results folder (default: results)")
    p.add_argument(
        "--format", choices=("table", "markdown", "csv", "html", "cost"), default="table",
        help="cost: a PNG of error against cost per run, the Pareto front marked (needs --output)",
    )  # fmt: skip
    p.add_argument("--output", help="write to this file instead of the terminal")
    p.add_argument(
        "--aggregate", choices=("latest", "mean"),
        help="one row per predictor configuration: its latest run, or the mean ± sd over its "
        "runs (e.g. a seed sweep)",
    )  # fmt: skip
    p.add_argument(
        "--compare", nargs=2, metavar=("RUN_A", "RUN_B"),
        help="compare two runs in full: the paired figures and tests, the items hit by one run "
        "only, the items they disagree on most, and each price band and category",
    )  # fmt: skip
    p.add_argument(
        "--fail-if-worse", action="store_true",
        help="with --compare BASE NEW: exit 1 when NEW is significantly worse than BASE on "
        "--metric (a regression gate for CI), 0 otherwise; the verdict is the last line",
    )  # fmt: skip
    p.add_argument(
        "--metric", default="error",
        help=f"the metric the gate judges (default error): {', '.join(cmp.GATE_METRICS)}",
    )  # fmt: skip
    p.add_argument(
        "--alpha", type=float, default=0.05,
        help="significance level of --compare's tests and the gate (default 0.05)",
    )  # fmt: skip
    p.add_argument("--no-reported", action="store_true", help="leave out the published rows")
    p.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples (1000)")
    return p


def check_compare_flags(args: argparse.Namespace) -> None:
    """PricebenchError for a --compare-only flag without --compare, or a value out of range."""
    if not args.compare:
        for flag, given in (("--fail-if-worse", args.fail_if_worse),
                            ("--metric", args.metric != "error"),
                            ("--alpha", args.alpha != 0.05)):  # fmt: skip
            if given:
                raise PricebenchError(
                    f"{flag} applies to a comparison: add --compare BASE NEW (two run folders)"
                )
    if not 0 < args.alpha < 1:  # NaN fails too
        raise PricebenchError(
            f"--alpha takes a significance level between 0 and 1 (e.g. 0.05), not {args.alpha:g}"
        )
    if args.metric not in cmp.GATE_METRICS:
        raise PricebenchError(
            f"the gate cannot judge --metric {args.metric!r}: use one of "
            f"{', '.join(cmp.GATE_METRICS)}"
        )
    if args.metric != "error" and not args.fail_if_worse:
        raise PricebenchError("--metric chooses what the gate judges: add --fail-if-worse")


def gate_verdict(args: argparse.Namespace) -> cmp.Verdict:
    """The regression gate's verdict on ``--compare BASE NEW``."""
    base, new = (find_run(args.results, name) for name in args.compare)
    try:
        return cmp.gate(base.records, new.records, args.metric, args.alpha)
    except ValueError as exc:
        raise PricebenchError(str(exc)) from None


def render(args: argparse.Namespace) -> str | None:
    """The text to write, or None when the rich table went to the terminal."""
    if args.compare:
        run_a, run_b = (find_run(args.results, name) for name in args.compare)
        return compare_output(run_a, run_b, args.format, args.alpha)
    if not 0 <= args.bootstrap <= MAX_BOOTSTRAP:
        raise PricebenchError(
            f"--bootstrap takes a number of resamples from 0 (no intervals) to {MAX_BOOTSTRAP:,}, "
            f"not {args.bootstrap}"
        )
    if not Path(args.results).is_dir():
        raise PricebenchError(f"no results folder {args.results}: run pricebench first")
    if args.format == "cost" and not args.output:
        raise PricebenchError("--format cost writes a PNG: give --output FILE.png")
    runs = load_runs(args.results, warn=warn)
    board = build(runs, args.aggregate, not args.no_reported, args.bootstrap, warn=warn)
    if args.format == "table" and not args.output:
        fmt.rich_table(board)
        return None
    if args.format == "cost":
        cost_chart.write_png(board, args.output)
        print(f"wrote {args.output}")
        return None
    if args.format == "csv":
        return fmt.to_csv(board)
    if args.format == "html":
        return fmt.to_html(board)
    return fmt.markdown(board)  # markdown, and the table written to a file


def main(argv: Sequence[str] | None = None) -> None:
    """The ``pricebench-leaderboard`` console script."""
    args = parser().parse_args(argv)
    verdict = None
    try:
        check_compare_flags(args)
        text = render(args)
        if args.fail_if_worse:
            verdict = gate_verdict(args)
        if text is not None and args.output:
            _write(args.output, text)
    except PricebenchError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        sys.exit(2)
    if text is not None:
        if args.output:
            print(f"wrote {args.output}")
        else:
            sys.stdout.write(text)
    if verdict is not None:
        print(verdict.line(), flush=True)
        sys.exit(1 if verdict.worse else 0)


def _write(path: str, text: str) -> None:
    try:
        results.write_text(path, text)
    except OSError as exc:
        raise PricebenchError(
            f"cannot write {path}: {exc.strerror or exc}; give --output a file in a folder you "
            "can write"
        ) from None


if __name__ == "__main__":
    main()
