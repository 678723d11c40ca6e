"""Leaderboards built from the results store alone, with confidence intervals and paired tests.

Its command line (``pricebench-leaderboard``) is :mod:`harness.leaderboard_cli`; its output formats
are :mod:`harness.leaderboard_format`. The columns are the metrics of the registry that get a CI
(:data:`harness.metrics.CI_METRICS`); rows are ordered by :data:`harness.metrics.RANK_BY`.
"""

from __future__ import annotations

import json
import statistics
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from harness import results
from harness.data import CANONICAL_FINGERPRINT
from harness.errors import PricebenchError, warn
from harness.metrics import CI_METRICS, METRICS, RANK_BY
from harness.published import PUBLISHED, SOURCE
from harness.stats import Interval, metric_cis, paired_comparison

# The CSV columns, in order: a row's fields, with each CI metric's value, interval and sd.
COLUMNS = (
    "rank", "kind", "predictor", "title", "model",
    *(column for name in CI_METRICS for column in (name, f"{name}_low", f"{name}_high")),
    *(f"{name}_sd" for name in CI_METRICS),
    "runs", "n", "unparseable", "cost", "tie_with_leader", "date", "run", "fingerprint",
)  # fmt: skip
IGNORED_IN_IDENTITY = ("seed", "cache_dir", "cache_enabled", "registry", "base_url")
Kind = Literal["run", "mean", "reported"]
Tie = Literal["leader", "yes", "no"]


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


@dataclass
class Row:
    """One leaderboard row: a run, the mean of a configuration's runs, or a published result."""

    kind: Kind  # one run, the mean of a configuration's runs, or a published result
    title: str
    predictor: str | None = None
    model: str = ""
    values: dict[str, float] = field(default_factory=dict)  # CI metric name -> value
    intervals: dict[str, Interval] = field(default_factory=dict)  # 95% bootstrap CIs ("run")
    sd: dict[str, float] = field(default_factory=dict)  # sample sd over the runs ("mean")
    n: int | None = None
    runs: int | None = None
    unparseable: int | None = None
    cost: float | None = None
    date: str = ""
    run: str = ""  # the run folder's name (for "mean": every run's, comma-separated)
    fingerprint: str | None = None
    rank: int | None = None  # canonical rows that are not "reported", from 1
    tie_with_leader: Tie | None = None  # among the ranked runs: can a paired test tell them apart
    source: Run | None = None  # the run behind the row (for "mean": the latest)

    def columns(self) -> dict[str, Any]:
        """The row under the names of COLUMNS (None where it has no value)."""
        flat: dict[str, Any] = {
            "rank": self.rank, "kind": self.kind, "predictor": self.predictor,
            "title": self.title, "model": self.model, "runs": self.runs, "n": self.n,
            "unparseable": self.unparseable, "cost": self.cost,
            "tie_with_leader": self.tie_with_leader, "date": self.date, "run": self.run,
            "fingerprint": self.fingerprint,
        }  # fmt: skip
        for name in CI_METRICS:
            interval = self.intervals.get(name)
            flat[name] = self.values.get(name)
            flat[f"{name}_low"] = interval.low if interval else None
            flat[f"{name}_high"] = interval.high if interval else None
            flat[f"{name}_sd"] = self.sd.get(name)
        return flat

    def __getitem__(self, column: str) -> Any:
        """A column's value, e.g. ``row["error_low"]`` (KeyError for a name not in COLUMNS)."""
        return self.columns()[column]


@dataclass
class Leaderboard:
    ranked: list[Row]
    others: dict[str | None, list[Row]]  # rows on other item sets, by fingerprint
    notes: list[str]


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


def run_row(run: Run, n_boot: int) -> Row:
    """A run's row, with bootstrap CIs from ``n_boot`` resamples (none when 0)."""
    m = run.metrics
    return Row(
        kind="run", title=str(m.get("title") or ""), predictor=m.get("predictor"),
        model=m.get("model") or (run.config.get("predictor") or {}).get("model") or "",
        values={name: m[name] for name in CI_METRICS if m.get(name) is not None},
        intervals=metric_cis(run.records, n_boot=n_boot) if n_boot > 0 else {},
        n=m.get("n"), runs=1, unparseable=m.get("unparseable", 0), cost=m.get("cost"),
        date=str(m.get("created_at", ""))[:10], run=run.path.name,
        fingerprint=m.get("fingerprint"), source=run,
    )  # fmt: skip


def mean_row(group: Sequence[Run]) -> Row:
    """The mean and sample standard deviation of each CI metric over a configuration's runs."""
    row = run_row(group[-1], n_boot=0)
    row.kind, row.runs, row.run = "mean", len(group), ", ".join(r.path.name for r in group)
    for name in CI_METRICS:
        values = [r.metrics[name] for r in group]
        row.values[name] = statistics.fmean(values)
        row.sd[name] = statistics.stdev(values) if len(values) > 1 else 0.0
    row.cost = sum(r.metrics.get("cost") or 0 for r in group) or None
    return row


def reported_rows() -> list[Row]:
    """The course's published results."""
    return [
        Row(kind="reported", title=f"{p.predictor} (reported)", predictor=p.predictor,
            values=dict(p.metrics), n=250, fingerprint=CANONICAL_FINGERPRINT)
        for p in PUBLISHED
    ]  # fmt: skip


def rank_key(row: Row) -> tuple[bool, float]:
    """Best first by RANK_BY; rows without it last."""
    value = row.values.get(RANK_BY)
    return (value is None, 0.0 if value is None else METRICS[RANK_BY].sort_key(value))


def build(runs: Sequence[Run], aggregate: str | None = None, reported: bool = True,
          n_boot: int = 1000) -> Leaderboard:  # fmt: skip
    """Rows sorted by RANK_BY; canonical runs ranked, other fingerprints kept apart."""
    if aggregate not in (None, "latest", "mean"):
        raise PricebenchError(f"--aggregate takes latest or mean, not {aggregate!r}")
    groups: dict[str, list[Run]] = defaultdict(list)
    for run in runs:
        groups[run.identity if aggregate else run.path.name].append(run)
    rows = [mean_row(g) if aggregate == "mean" else run_row(g[-1], n_boot) for g in groups.values()]
    canonical = [r for r in rows if r.fingerprint == CANONICAL_FINGERPRINT]
    others: dict[str | None, list[Row]] = defaultdict(list)
    for row in rows:
        if row.fingerprint != CANONICAL_FINGERPRINT:
            others[row.fingerprint].append(row)
    mark_ties(canonical)
    ranked = sorted(canonical + (reported_rows() if reported else []), key=rank_key)
    for rank, row in enumerate((r for r in ranked if r.kind != "reported"), 1):
        row.rank = rank
    notes = [f"reported rows: {SOURCE}"] if reported else []
    for fingerprint, group in others.items():
        group.sort(key=rank_key)
        notes.append(
            f"{len(group)} run(s) scored another item set (fingerprint {str(fingerprint)[:12]}, "
            f"n={group[0].n}): listed apart, never ranked with the canonical 250 items"
        )
    return Leaderboard(ranked, dict(others), notes)


def mark_ties(rows: Sequence[Row]) -> None:
    """Mark runs that a paired test (5%) cannot tell apart from the leader."""
    runs = [(r, r.source) for r in rows if r.kind == "run" and r.source is not None]
    if len(runs) < 2:
        return
    leader, best = min(runs, key=lambda pair: rank_key(pair[0]))
    leader.tie_with_leader = "leader"
    for row, run in runs:
        if row is not leader:
            comparison = paired_comparison(best.records, run.records, n_boot=200)
            row.tie_with_leader = "yes" if not comparison.significant(0.05) else "no"
