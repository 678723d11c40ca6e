"""Leaderboards built from the results store alone, with confidence intervals and paired tests.

``pricebench-leaderboard [--results DIR] [--format table|markdown|csv|html] [--output FILE]
[--aggregate latest|mean] [--compare RUN_A RUN_B]``
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from harness import results
from harness.data import CANONICAL_FINGERPRINT
from harness.errors import PricebenchError, warn
from harness.published import PUBLISHED, SOURCE

COLUMNS = (
    "rank", "kind", "predictor", "title", "model", "error", "error_low", "error_high", "rmsle",
    "rmsle_low", "rmsle_high", "hit_rate", "hit_rate_low", "hit_rate_high", "error_sd", "rmsle_sd",
    "hit_rate_sd", "runs", "n", "unparseable", "cost", "tie_with_leader", "date", "run",
    "fingerprint",
)  # fmt: skip
IGNORED_IN_IDENTITY = ("seed", "cache_dir", "cache_enabled", "registry", "base_url")


@dataclass
class Run:
    """One finished run folder."""

    path: Path
    metrics: dict[str, Any]
    config: dict[str, Any] = field(default_factory=dict)

    @cached_property
    def records(self) -> list[dict[str, Any]]:
        return results.read_predictions(self.path)

    @property
    def canonical(self) -> bool:
        return self.metrics.get("fingerprint") == CANONICAL_FINGERPRINT

    @property
    def identity(self) -> str:
        """The predictor configuration apart from its seed: runs that differ only in seed."""
        predictor = dict(self.config.get("predictor") or {})
        for key in IGNORED_IN_IDENTITY:
            predictor.pop(key, None)
        return json.dumps([self.metrics.get("title"), predictor, self.metrics.get("fingerprint")],
                          sort_keys=True, default=str)  # fmt: skip


def load_run(path: str | Path) -> Run | None:
    """One finished run folder with its config; None (and a warning) if it cannot be read."""
    import yaml

    path = Path(path)
    try:
        metrics = results.read_metrics(path)
        config_file = path / results.CONFIG_FILE
        config = yaml.safe_load(config_file.read_text()) if config_file.is_file() else {}
    except (OSError, ValueError, yaml.YAMLError) as exc:
        warn(f"skipping {path}: {exc}")
        return None
    return Run(path, metrics, config or {})


def load_runs(results_dir: str | Path) -> list[Run]:
    """Every finished run under ``results_dir`` (a folder with ``metrics.json``), oldest first."""
    runs = [run for path in results.finished_runs(results_dir) if (run := load_run(path))]
    return sorted(runs, key=lambda r: (r.metrics.get("created_at", ""), r.path.name))


def find_run(results_dir: str | Path, name: str) -> Run:
    """A run by folder path, or by folder name (or a unique prefix of one) under ``results_dir``."""
    if (Path(name) / results.METRICS_FILE).is_file() and (run := load_run(name)):
        return run
    matches = [r for r in load_runs(results_dir) if r.path.name.startswith(name)]
    if len(matches) != 1:
        found = "no run" if not matches else f"{len(matches)} runs"
        raise PricebenchError(f"{found} named {name!r} under {results_dir}; give a run folder")
    return matches[0]


def _run_row(run: Run, n_boot: int) -> dict[str, Any]:
    from harness.stats import metric_cis

    m = run.metrics
    row: dict[str, Any] = {
        "kind": "run", "predictor": m.get("predictor"), "title": m.get("title"),
        "model": m.get("model") or (run.config.get("predictor") or {}).get("model") or "",
        "runs": 1, "n": m.get("n"), "unparseable": m.get("unparseable", 0),
        "cost": m.get("cost"), "date": str(m.get("created_at", ""))[:10], "run": run.path.name,
        "fingerprint": m.get("fingerprint"),
    }  # fmt: skip
    for name in ("error", "rmsle", "hit_rate"):
        row[name] = m.get(name)
    if n_boot > 0:
        for name, interval in metric_cis(run.records, n_boot=n_boot).items():
            row[f"{name}_low"], row[f"{name}_high"] = interval.low, interval.high
    row["_run"] = run
    return row


def _mean_row(group: list[Run]) -> dict[str, Any]:
    latest = group[-1]
    row = {k: v for k, v in _run_row(latest, n_boot=0).items() if not k.endswith(("_low", "_high"))}
    row.update(kind="mean", runs=len(group), run=", ".join(r.path.name for r in group))
    for name in ("error", "rmsle", "hit_rate"):
        values = [r.metrics[name] for r in group]
        row[name] = statistics.fmean(values)
        row[f"{name}_sd"] = statistics.stdev(values) if len(values) > 1 else 0.0
    row["cost"] = sum(r.metrics.get("cost") or 0 for r in group) or None
    return row


def _reported_rows() -> list[dict[str, Any]]:
    return [
        {"kind": "reported", "predictor": p.predictor, "title": f"{p.predictor} (reported)",
         "model": "", "error": p.error, "rmsle": p.rmsle, "hit_rate": p.hit_rate, "n": 250,
         "runs": None, "fingerprint": CANONICAL_FINGERPRINT, "run": "", "date": ""}
        for p in PUBLISHED
    ]  # fmt: skip


@dataclass
class Leaderboard:
    ranked: list[dict[str, Any]]
    others: dict[str, list[dict[str, Any]]]  # rows on other item sets, by fingerprint
    notes: list[str]


def build(runs: Sequence[Run], aggregate: str | None = None, reported: bool = True,
          n_boot: int = 1000) -> Leaderboard:  # fmt: skip
    """Rows sorted by error; canonical runs ranked, other fingerprints kept apart."""
    if aggregate not in (None, "latest", "mean"):
        raise PricebenchError(f"--aggregate takes latest or mean, not {aggregate!r}")
    groups: dict[str, list[Run]] = defaultdict(list)
    for run in runs:
        groups[run.identity if aggregate else run.path.name].append(run)
    rows = []
    for group in groups.values():
        if aggregate == "mean":
            rows.append(_mean_row(group))
        else:
            rows.append(_run_row(group[-1], n_boot))
    canonical = [r for r in rows if r["fingerprint"] == CANONICAL_FINGERPRINT]
    others: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        if row["fingerprint"] != CANONICAL_FINGERPRINT:
            others[row["fingerprint"]].append(row)
    _mark_ties(canonical)
    ranked = sorted(canonical + (_reported_rows() if reported else []), key=lambda r: r["error"])
    for rank, row in enumerate((r for r in ranked if r["kind"] != "reported"), 1):
        row["rank"] = rank
    notes = [f"reported rows: {SOURCE}"] if reported else []
    for fingerprint, group in others.items():
        group.sort(key=lambda r: r["error"])
        notes.append(
            f"{len(group)} run(s) scored another item set (fingerprint {str(fingerprint)[:12]}, "
            f"n={group[0]['n']}): listed apart, never ranked with the canonical 250 items"
        )
    return Leaderboard(ranked, dict(others), notes)


def _mark_ties(rows: list[dict[str, Any]]) -> None:
    """Mark runs that a paired test (5%) cannot tell apart from the leader."""
    from harness.stats import paired_comparison

    runs = [r for r in rows if r["kind"] == "run"]
    if len(runs) < 2:
        return
    leader = min(runs, key=lambda r: r["error"])
    leader["tie_with_leader"] = "leader"
    for row in runs:
        if row is not leader:
            comparison = paired_comparison(leader["_run"].records, row["_run"].records, n_boot=200)
            row["tie_with_leader"] = "yes" if not comparison.significant(0.05) else "no"


def compare_text(a: Run, b: Run, n_boot: int = 2000) -> str:
    """The paired comparison of two runs on their shared items, in full."""
    from harness.stats import paired_comparison

    if a.metrics.get("fingerprint") != b.metrics.get("fingerprint"):
        print("pricebench: warning: the runs scored different item sets; comparing shared items",
              file=sys.stderr)  # fmt: skip
    try:
        c = paired_comparison(a.records, b.records, n_boot=n_boot)
    except ValueError as exc:
        raise PricebenchError(str(exc)) from None
    lines = [f"A: {a.metrics.get('summary_line')}  ({a.path.name})",
             f"B: {b.metrics.get('summary_line')}  ({b.path.name})",
             f"shared items: {c.n}", "difference A - B, with 95% bootstrap CI:"]  # fmt: skip
    for name, fmt in (("error", "${:+,.2f}"), ("rmsle", "{:+.3f}"), ("hit_rate", "{:+.1%}")):
        d = c.diff[name]
        lines.append(
            f"  {name:9s} {fmt.format(d.point)}  [{fmt.format(d.low)}, {fmt.format(d.high)}]"
        )
    lines += [
        f"Wilcoxon signed-rank on absolute errors: p = {c.wilcoxon_p:.3g}",
        f"McNemar exact on hits: p = {c.mcnemar_p:.3g} (A only: {c.a_only_hits}, "
        f"B only: {c.b_only_hits})",
        "verdict: " + ("different at 5%" if c.significant(0.05) else "no difference at 5%"),
    ]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> None:
    """The ``pricebench-leaderboard`` console script."""
    from harness import leaderboard_format as fmt

    parser = argparse.ArgumentParser(
        prog="pricebench-leaderboard",
        description="Rank the runs in a results folder by error, with 95%% bootstrap CIs, paired "
        "tests against the leader and the course's published numbers.",
    )
    parser.add_argument(
        "--results", default="results", help="the results folder (default: results)"
    )
    parser.add_argument("--format", choices=("table", "markdown", "csv", "html"), default="table")
    parser.add_argument("--output", help="write to this file instead of the terminal")
    parser.add_argument(
        "--aggregate", choices=("latest", "mean"),
        help="one row per predictor configuration: its latest run, or the mean ± sd over its "
        "runs (e.g. a seed sweep)",
    )  # fmt: skip
    parser.add_argument(
        "--compare", nargs=2, metavar=("RUN_A", "RUN_B"),
        help="print the paired comparison of two runs in full",
    )  # fmt: skip
    parser.add_argument("--no-reported", action="store_true", help="leave out the published rows")
    parser.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples (1000)")
    args = parser.parse_args(argv)
    try:
        if args.compare:
            text = compare_text(*(find_run(args.results, name) for name in args.compare))
        else:
            if not Path(args.results).is_dir():
                raise PricebenchError(f"no results folder {args.results}: run pricebench first")
            board = build(
                load_runs(args.results), args.aggregate, not args.no_reported, args.bootstrap
            )
            if args.format == "table" and not args.output:
                fmt.rich_table(board)
                return
            text = {
                "markdown": fmt.markdown,
                "csv": lambda b: fmt.to_csv(b, COLUMNS),
                "html": fmt.to_html,
                "table": fmt.markdown,
            }[args.format](board)
    except PricebenchError as exc:
        print(f"pricebench-leaderboard: error: {exc}", file=sys.stderr)
        sys.exit(2)
    if args.output:
        results.write_text(args.output, text)
        print(f"wrote {args.output}")
    else:
        sys.stdout.write(text)
