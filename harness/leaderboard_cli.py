"""``pricebench-leaderboard [--results DIR] [--format table|markdown|csv|html] [--output FILE]
[--aggregate latest|mean] [--compare RUN_A RUN_B]``: the command line of :mod:`harness.leaderboard`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from harness import leaderboard_format as fmt
from harness import results
from harness.errors import PricebenchError
from harness.leaderboard import Run, build, find_run, load_runs
from harness.metrics import CI_METRICS, EDITIONS, METRICS
from harness.stats import paired_comparison

PROG = "pricebench-leaderboard"
MAX_BOOTSTRAP = 100_000


def warn(message: str) -> None:
    """One warning line on stderr, beside the board: something was left out or is suspect."""
    print(f"{PROG}: warning: {message}", file=sys.stderr, flush=True)


def compare_text(a: Run, b: Run, n_boot: int = 2000) -> str:
    """The paired comparison of two runs on their shared items, in full."""
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
        + ("different" if c.significant(0.05) else "no difference")
        + " at 5% (the two tests Holm-corrected)",
    ]
    return "\n".join(lines) + "\n"


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
    p.add_argument("--format", choices=("table", "markdown", "csv", "html"), default="table")
    p.add_argument("--output", help="write to this file instead of the terminal")
    p.add_argument(
        "--aggregate", choices=("latest", "mean"),
        help="one row per predictor configuration: its latest run, or the mean ± sd over its "
        "runs (e.g. a seed sweep)",
    )  # fmt: skip
    p.add_argument(
        "--compare", nargs=2, metavar=("RUN_A", "RUN_B"),
        help="print the paired comparison of two runs in full",
    )  # fmt: skip
    p.add_argument("--no-reported", action="store_true", help="leave out the published rows")
    p.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples (1000)")
    return p


def render(args: argparse.Namespace) -> str | None:
    """The text to write, or None when the rich table went to the terminal."""
    if args.compare:
        run_a, run_b = (find_run(args.results, name) for name in args.compare)
        return compare_text(run_a, run_b)
    if not 0 <= args.bootstrap <= MAX_BOOTSTRAP:
        raise PricebenchError(
            f"--bootstrap takes a number of resamples from 0 (no intervals) to {MAX_BOOTSTRAP:,}, "
            f"not {args.bootstrap}"
        )
    if not Path(args.results).is_dir():
        raise PricebenchError(f"no results folder {args.results}: run pricebench first")
    runs = load_runs(args.results, warn=warn)
    board = build(runs, args.aggregate, not args.no_reported, args.bootstrap, warn=warn)
    if args.format == "table" and not args.output:
        fmt.rich_table(board)
        return None
    if args.format == "csv":
        return fmt.to_csv(board)
    if args.format == "html":
        return fmt.to_html(board)
    return fmt.markdown(board)  # markdown, and the table written to a file


def main(argv: Sequence[str] | None = None) -> None:
    """The ``pricebench-leaderboard`` console script."""
    args = parser().parse_args(argv)
    try:
        text = render(args)
        if text is not None and args.output:
            _write(args.output, text)
    except PricebenchError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        sys.exit(2)
    if text is None:
        return
    if args.output:
        print(f"wrote {args.output}")
    else:
        sys.stdout.write(text)


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
