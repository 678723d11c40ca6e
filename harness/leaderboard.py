"""Leaderboards built from the results store alone, with confidence intervals and paired tests.

Its command line (``pricebench-leaderboard``) is :mod:`harness.leaderboard_cli`; its output formats
are :mod:`harness.leaderboard_format`. The columns are the metrics of the registry that get a CI
(:data:`harness.metrics.CI_METRICS`) that the runs' edition shows (:data:`harness.metrics.EDITIONS`:
2024 error, RMSLE, hits; 2025 error, MSE, R², hits); rows are ordered by
:data:`harness.metrics.RANK_BY`. Runs of different editions, like runs on different item sets, are
never ranked together: each edition's runs are a table of their own, beside that edition's
published rows.
"""

from __future__ import annotations

import json
import math
import statistics
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from harness import results
from harness.data import CANONICAL_FINGERPRINT
from harness.errors import PricebenchError, warn
from harness.metrics import CI_METRICS, DEFAULT_EDITION, EDITIONS, METRICS, RANK_BY, edition_of
from harness.published import BY_EDITION
from harness.stats import Interval, PairedComparison, holm, metric_cis, paired_comparison

# The CSV columns, in order: a row's fields, with each CI metric's value, interval and sd. The
# 2024 edition's metrics keep their places; the later ones (MSE, R²) and the edition come last.
_FIRST = EDITIONS[DEFAULT_EDITION]
_LATER = tuple(name for name in CI_METRICS if name not in _FIRST)
COLUMNS = (
    "rank", "kind", "predictor", "title", "model",
    *(column for name in _FIRST for column in (name, f"{name}_low", f"{name}_high")),
    *(f"{name}_sd" for name in _FIRST),
    "runs", "n", "unparseable", "cost", "tie_with_leader", "date", "run", "fingerprint",
    *(column for name in _LATER for column in (name, f"{name}_low", f"{name}_high", f"{name}_sd")),
    "edition",
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
    def edition(self) -> str:
        """The course edition the run follows (its metrics.json's "edition"; 2024 when missing)."""
        return edition_of(self.metrics)

    @property
    def identity(self) -> str:
        """The predictor configuration apart from its seed: runs that differ only in seed."""
        predictor = dict(self.config.get("predictor") or {})
        for key in IGNORED_IN_IDENTITY:
            predictor.pop(key, None)
        return json.dumps([self.metrics.get("title"), predictor, self.metrics.get("fingerprint"),
                           self.edition], sort_keys=True, default=str)  # fmt: skip


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
    edition: str = DEFAULT_EDITION

    def columns(self) -> dict[str, Any]:
        """The row under the names of COLUMNS (None where it has no value)."""
        flat: dict[str, Any] = {
            "rank": self.rank, "kind": self.kind, "predictor": self.predictor,
            "title": self.title, "model": self.model, "runs": self.runs, "n": self.n,
            "unparseable": self.unparseable, "cost": self.cost,
            "tie_with_leader": self.tie_with_leader, "date": self.date, "run": self.run,
            "fingerprint": self.fingerprint, "edition": self.edition,
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
class Table:
    """One table of a board: rows of one edition on one item set."""

    edition: str
    fingerprint: str | None
    rows: list[Row]
    ranked: bool  # ranks and ties (the 2024 canonical items, or one item set of a later edition)

    @property
    def metrics(self) -> tuple[str, ...]:
        """The CI metrics shown as its columns: its edition's."""
        return EDITIONS[self.edition]


@dataclass
class Leaderboard:
    ranked: list[Row]  # the 2024 edition's canonical 250 items, with its reported rows
    others: dict[str | None, list[Row]]  # 2024-edition rows on other item sets, by fingerprint
    notes: list[str]
    # later editions' runs, by edition then item set (fingerprint), each ranked on its own beside
    # the edition's reported rows
    editions: dict[str, dict[str | None, list[Row]]] = field(default_factory=dict)

    def tables(self) -> list[Table]:
        """Every table to show, in order: the 2024 ranked one (left out when it is empty), the
        2024 other item sets, then each later edition's item sets."""
        out = [Table(DEFAULT_EDITION, CANONICAL_FINGERPRINT, self.ranked, True)]
        if not self.ranked and (self.others or self.editions):
            out = []
        out += [Table(DEFAULT_EDITION, f, rows, False) for f, rows in self.others.items()]
        for edition, sets in self.editions.items():
            out += [Table(edition, f, rows, True) for f, rows in sets.items()]
        return out

    def rows(self) -> list[Row]:
        """Every row once (a later edition's reported rows appear beside each of its item sets)."""
        seen: set[int] = set()
        out = []
        for table in self.tables():
            for row in table.rows:
                if id(row) not in seen:
                    seen.add(id(row))
                    out.append(row)
        return out


class UnreadableRun(Exception):
    """A run folder the leaderboard cannot use; the message says which file and why."""


def load_run(path: str | Path, warn: Callable[[str], None] = warn) -> Run | None:
    """One finished run folder with its config and records; None (and one warning line naming the
    folder and why, through ``warn``) if any of them cannot be read."""
    try:
        return read_run(path)
    except UnreadableRun as exc:
        warn(f"skipped {_printable(path)}: {exc}")
        return None


def _printable(path: str | Path) -> str:
    """A path as one line of text: quoted, escapes shown, when it holds a line break or a
    control character."""
    text = str(path)
    return text if text.isprintable() else repr(text)


def read_run(path: str | Path) -> Run:
    """One finished run folder, checked: ``metrics.json`` an object with a finite number for each
    CI metric and fields of the right types, ``config.yaml`` (when there is one) a mapping, and
    ``predictions.jsonl`` one record per item (``n`` of them) with finite ``truth`` and ``guess``
    and no item twice. Raises :class:`UnreadableRun` saying what is wrong."""
    path = Path(path)
    metrics = _checked_metrics(_read_json(path / results.METRICS_FILE))
    run = Run(path, metrics, _read_config(path / results.CONFIG_FILE))
    run.__dict__["records"] = _read_records(path / results.PREDICTIONS_FILE, metrics.get("n"))
    return run


def _text(file: Path) -> str:
    try:
        return file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UnreadableRun(f"no {file.name}") from None
    except UnicodeDecodeError:
        raise UnreadableRun(f"{file.name} is not UTF-8 text") from None
    except OSError as exc:
        raise UnreadableRun(f"{file.name}: {exc.strerror or exc}") from None


def _kind(value: Any) -> str:
    """How a JSON or YAML value is named in a message: "list", "string", "number"."""
    names = {dict: "object", list: "list", str: "string", bool: "boolean", int: "number",
             float: "number", type(None): "null"}  # fmt: skip
    return names.get(type(value), type(value).__name__)


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _read_json(file: Path) -> dict[str, Any]:
    try:
        value = json.loads(_text(file))
    except json.JSONDecodeError as exc:
        raise UnreadableRun(
            f"{file.name} is not valid JSON ({exc.msg}, line {exc.lineno}; truncated?)"
        ) from None
    if not isinstance(value, dict):
        raise UnreadableRun(f"{file.name} holds a JSON {_kind(value)}, not an object")
    return value


# metrics.json fields the leaderboard shows, and what each must be when present and not null.
_TEXT_FIELDS = ("title", "predictor", "model", "fingerprint", "created_at", "summary_line")
_COUNT_FIELDS = ("n", "unparseable")


def _checked_metrics(metrics: dict[str, Any]) -> dict[str, Any]:
    try:
        edition = edition_of(metrics)
    except ValueError:
        raise UnreadableRun(
            f"metrics.json's 'edition' is {_shown(metrics.get('edition'))}, not one of "
            f"{', '.join(map(repr, EDITIONS))}"
        ) from None
    for name in CI_METRICS:
        if metrics.get(name) is None:
            if name in EDITIONS[edition]:
                raise UnreadableRun(f"metrics.json has no {name!r}")
            continue  # not shown for its edition (a run from before the metric): from its records
        value = metrics[name]
        if not _is_number(value):
            raise UnreadableRun(f"metrics.json's {name!r} is {_shown(value)}, not a number")
        if not math.isfinite(value):
            raise UnreadableRun(f"metrics.json's {name!r} is {value}, not a finite number")
    for name in _TEXT_FIELDS:
        value = metrics.get(name)
        if value is not None and not isinstance(value, str | int | float):
            raise UnreadableRun(f"metrics.json's {name!r} is {_shown(value)}, not text")
    for name in _COUNT_FIELDS:
        value = metrics.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise UnreadableRun(f"metrics.json's {name!r} is {_shown(value)}, not a count")
    cost = metrics.get("cost")
    if cost is not None and not (_is_number(cost) and math.isfinite(cost)):
        raise UnreadableRun(f"metrics.json's 'cost' is {_shown(cost)}, not a number")
    return metrics


def _read_config(file: Path) -> dict[str, Any]:
    import yaml

    if not file.is_file():
        return {}
    try:
        config = yaml.safe_load(_text(file))
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f", line {where.line + 1}" if where is not None else ""
        raise UnreadableRun(f"config.yaml is not valid YAML{line}") from None
    if config is None:
        return {}
    if not isinstance(config, dict):
        raise UnreadableRun(f"config.yaml holds a {_kind(config)}, not a mapping")
    if not isinstance(config.get("predictor") or {}, dict):
        raise UnreadableRun("config.yaml's 'predictor' is not a mapping")
    return config


def _read_records(file: Path, n: int | None) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    seen: set[int] = set()
    for number, line in enumerate(_text(file).splitlines(), 1):
        if not line.strip():
            continue
        where = f"{file.name} line {number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            raise UnreadableRun(f"{where} is not valid JSON (truncated?)") from None
        if not isinstance(record, dict):
            raise UnreadableRun(f"{where} holds a JSON {_kind(record)}, not an object")
        for key in ("truth", "guess"):
            if key not in record:
                raise UnreadableRun(f"{where} has no {key!r}")
            value = record[key]
            if not (_is_number(value) and math.isfinite(value)):
                raise UnreadableRun(f"{where}: {key!r} is {_shown(value)}, not a finite number")
        index = record.get("index", len(records))
        if not isinstance(index, int) or isinstance(index, bool):
            raise UnreadableRun(f"{where}: 'index' is {_shown(index)}, not a whole number")
        if index in seen:
            raise UnreadableRun(f"{where} repeats item index {index}")
        seen.add(index)
        records.append(record)
    if not records:
        raise UnreadableRun(f"{file.name} holds no records")
    if n is not None and len(records) != n:
        raise UnreadableRun(
            f"{file.name} holds {len(records)} records, but metrics.json says n={n} (truncated?)"
        )
    return records


def load_runs(results_dir: str | Path, warn: Callable[[str], None] = warn) -> list[Run]:
    """Every finished run under ``results_dir`` (a folder with ``metrics.json``), oldest first;
    a folder that cannot be read is skipped with one warning line (through ``warn``)."""
    paths = results.finished_runs(results_dir)
    runs = [run for path in paths if (run := load_run(path, warn))]
    return sorted(runs, key=lambda r: (str(r.metrics.get("created_at", "")), r.path.name))


def find_run(results_dir: str | Path, name: str) -> Run:
    """A run by folder path, or by folder name (or a unique prefix of one) under ``results_dir``;
    only that folder is read. PricebenchError when none or several match, or it cannot be read."""
    if (Path(name) / results.METRICS_FILE).exists():
        path = Path(name)
    else:
        matches = [p for p in results.finished_runs(results_dir) if p.name.startswith(name)]
        if len(matches) != 1:
            found = "no run" if not matches else f"{len(matches)} runs"
            raise PricebenchError(f"{found} named {name!r} under {results_dir}; give a run folder")
        (path,) = matches
    try:
        return read_run(path)
    except UnreadableRun as exc:
        raise PricebenchError(f"cannot read run {path}: {exc}") from None


def run_row(run: Run, n_boot: int) -> Row:
    """A run's row, with bootstrap CIs from ``n_boot`` resamples (none when 0). A CI metric its
    metrics.json lacks (a run from before the metric) is taken from its records when there are
    intervals, else left blank."""
    m = run.metrics
    model = m.get("model") or (run.config.get("predictor") or {}).get("model") or ""
    intervals = metric_cis(run.records, n_boot=n_boot) if n_boot > 0 else {}
    values = {name: m[name] for name in CI_METRICS if m.get(name) is not None}
    values |= {name: i.point for name, i in intervals.items() if name not in values}
    return Row(
        kind="run", title=str(m.get("title") or ""),
        predictor=None if m.get("predictor") is None else str(m["predictor"]),
        model=str(model), values={name: values[name] for name in CI_METRICS if name in values},
        intervals=intervals,
        n=m.get("n"), runs=1, unparseable=m.get("unparseable", 0), cost=m.get("cost"),
        date=str(m.get("created_at", ""))[:10], run=run.path.name,
        fingerprint=None if m.get("fingerprint") is None else str(m["fingerprint"]), source=run,
        edition=run.edition,
    )  # fmt: skip


def mean_row(group: Sequence[Run]) -> Row:
    """The mean and sample standard deviation of each CI metric over a configuration's runs (those
    every run's metrics.json holds)."""
    row = run_row(group[-1], n_boot=0)
    row.kind, row.runs, row.run = "mean", len(group), ", ".join(r.path.name for r in group)
    row.values = {}
    for name in CI_METRICS:
        if any(r.metrics.get(name) is None for r in group):
            continue
        values = [r.metrics[name] for r in group]
        row.values[name] = statistics.fmean(values)
        row.sd[name] = statistics.stdev(values) if len(values) > 1 else 0.0
    row.cost = sum(r.metrics.get("cost") or 0 for r in group) or None
    return row


def reported_rows(edition: str = DEFAULT_EDITION) -> list[Row]:
    """The course's published results for an edition (:data:`harness.published.BY_EDITION`)."""
    published, n, _ = BY_EDITION[edition]
    fingerprint = CANONICAL_FINGERPRINT if edition == DEFAULT_EDITION else None
    return [
        Row(kind="reported", title=f"{p.predictor} (reported)", predictor=p.predictor,
            values=dict(p.metrics), n=n, fingerprint=fingerprint, edition=edition)
        for p in published
    ]  # fmt: skip


def rank_key(row: Row) -> tuple[bool, float]:
    """Best first by RANK_BY; rows without it last."""
    value = row.values.get(RANK_BY)
    return (value is None, 0.0 if value is None else METRICS[RANK_BY].sort_key(value))


def build(runs: Sequence[Run], aggregate: str | None = None, reported: bool = True,
          n_boot: int = 1000, warn: Callable[[str], None] = warn) -> Leaderboard:  # fmt: skip
    """Rows sorted by RANK_BY. 2024-edition runs on the canonical items are ranked beside that
    edition's reported rows, those on other item sets kept apart; a later edition's runs are
    ranked per item set beside its reported rows. A run that cannot be compared with the leader is
    one warning line, through ``warn``."""
    if aggregate not in (None, "latest", "mean"):
        raise PricebenchError(f"--aggregate takes latest or mean, not {aggregate!r}")
    groups: dict[str, list[Run]] = defaultdict(list)
    for run in runs:
        groups[run.identity if aggregate else run.path.name].append(run)
    rows = [mean_row(g) if aggregate == "mean" else run_row(g[-1], n_boot) for g in groups.values()]
    first = [r for r in rows if r.edition == DEFAULT_EDITION]
    canonical = [r for r in first if r.fingerprint == CANONICAL_FINGERPRINT]
    others: dict[str | None, list[Row]] = defaultdict(list)
    for row in first:
        if row.fingerprint != CANONICAL_FINGERPRINT:
            others[row.fingerprint].append(row)
    later: dict[str, dict[str | None, list[Row]]] = defaultdict(lambda: defaultdict(list))
    for row in rows:
        if row.edition != DEFAULT_EDITION:
            later[row.edition][row.fingerprint].append(row)
    # The 2024 reported rows: beside its runs, or alone when there are no runs of another edition.
    show_first = reported and (bool(first) or not later)
    ranked = _ranked(canonical, reported_rows() if show_first else [], warn)
    notes = [f"reported rows: {BY_EDITION[DEFAULT_EDITION][2]}"] if show_first else []
    for fingerprint, group in others.items():
        group.sort(key=rank_key)
        notes.append(
            f"{len(group)} run(s) scored another item set (fingerprint {str(fingerprint)[:12]}, "
            f"n={group[0].n}): listed apart, never ranked with the canonical 250 items"
        )
    editions: dict[str, dict[str | None, list[Row]]] = {}
    for edition in sorted(later):
        published = reported_rows(edition) if reported else []
        editions[edition] = {
            f: _ranked(group, published, warn) for f, group in later[edition].items()
        }
        if reported:
            notes.append(f"reported rows: {BY_EDITION[edition][2]}")
        notes.append(
            f"{sum(map(len, later[edition].values()))} run(s) of the {edition} edition: ranked "
            f"apart from other editions, one table per item set"
        )
    return Leaderboard(ranked, dict(others), notes, editions)


def _ranked(runs: list[Row], published: list[Row], warn: Callable[[str], None]) -> list[Row]:
    """Runs on one item set, ties with their leader marked, sorted with the published rows; the
    runs ranked from 1."""
    mark_ties(runs, warn=warn)
    ranked = sorted(runs + published, key=rank_key)
    for rank, row in enumerate((r for r in ranked if r.kind != "reported"), 1):
        row.rank = rank
    return ranked


def mark_ties(rows: Sequence[Row], alpha: float = 0.05, warn: Callable[[str], None] = warn) -> None:
    """Mark the runs that paired tests cannot tell apart from the leader at ``alpha``.

    Each run is compared with the leader by two tests (Wilcoxon on per-item errors, McNemar on
    hits); all 2 x (k - 1) p-values are Holm-corrected together (:func:`harness.stats.holm`),
    and a run differs from the leader when either of its adjusted p-values is below ``alpha``.
    A run that cannot be compared with the leader item by item (say, the two disagree on a true
    price) is left unmarked, with a warning, and is not part of the correction."""
    runs = [(r, r.source) for r in rows if r.kind == "run" and r.source is not None]
    if len(runs) < 2:
        return
    leader, best = min(runs, key=lambda pair: rank_key(pair[0]))
    leader.tie_with_leader = "leader"
    compared: list[tuple[Row, PairedComparison]] = []
    for row, run in runs:
        if row is leader:
            continue
        try:  # the p-values do not depend on the bootstrap: one resample is enough
            compared.append((row, paired_comparison(best.records, run.records, n_boot=1)))
        except ValueError as exc:
            warn(f"{run.path.name} not compared with the leader {best.path.name}: {exc}")
    adjusted = holm([p for _, comparison in compared for p in comparison.p_values])
    for k, (row, _) in enumerate(compared):
        row.tie_with_leader = "no" if min(adjusted[2 * k : 2 * k + 2]) < alpha else "yes"
