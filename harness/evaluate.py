"""Runs a predictor over the test items and turns its guesses into scored, stored per-item records.

Data flows one way: config → data → predictor.fit(train) → predictor.predict(test) → metrics →
results store → tracker / report. :func:`evaluate` takes the run's settings as one
:class:`RunSettings`; ``harness.run`` builds it from a composed config.
"""

from __future__ import annotations

import math
import platform
import sys
import time
from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from harness import report, results
from harness.data import EDITION_SIZES, Dataset, Item, load_dataset
from harness.errors import PricebenchError
from harness.metrics import Scores, score, summarise, summary_line
from harness.predictor import (
    Prediction,
    Predictor,
    StreamingPredictor,
    label_of,
    notes_of,
    requires_fit,
    run_summary_of,
)
from harness.secrets import redact

if TYPE_CHECKING:
    from harness.tracking import Tracker


@dataclass(frozen=True, slots=True)
class RunSettings:
    """How one run goes: what it is called, what it scores, where it is stored, what it shows.

    ``data`` holds :func:`harness.data.load_dataset`'s keywords (the config's ``data`` section);
    ``config`` is the whole resolved config, stored (redacted) with the run and tracked."""

    name: str
    data: Mapping[str, Any]
    config: Mapping[str, Any]
    results_dir: str | Path = "results"
    title: str | None = None
    quiet: bool = False
    progress: bool = True
    colour: str | bool = "auto"
    chart: bool = True
    tracker_context: Mapping[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class RunResult:
    run_dir: Path
    metrics: dict[str, Any]
    records: list[dict[str, Any]]
    summary_line: str


def predict_all(
    predictor: Predictor, items: Sequence[Item], progress: bool = True
) -> list[Prediction]:
    """All predictions, in item order, with a progress bar on a terminal.

    A predictor that yields ``(position, Prediction)`` pairs from ``predict_iter(items)`` as they
    complete moves the bar item by item; otherwise ``predict(items)`` is called once.
    """
    from tqdm import tqdm

    with tqdm(
        total=len(items), desc="predicting", unit="item", disable=not progress or None
    ) as bar:
        if isinstance(predictor, StreamingPredictor):
            slots: list[Prediction | None] = [None] * len(items)
            for position, prediction in predictor.predict_iter(items):
                slots[position] = prediction
                bar.update(1)
            predictions = [p for p in slots if p is not None]
        else:
            predictions = list(predictor.predict(items))
            bar.update(len(predictions))
    if len(predictions) != len(items):
        raise PricebenchError(
            f"{type(predictor).__name__} returned {len(predictions)} predictions for "
            f"{len(items)} items"
        )
    for position, prediction in enumerate(predictions):
        if not isinstance(prediction, Prediction):
            prediction = predictions[position] = Prediction(prediction)  # a bare number
        try:
            prediction.guess = float(prediction.guess)
        except (TypeError, ValueError):
            raise PricebenchError(
                f"{type(predictor).__name__} guessed {prediction.guess!r} for item {position}, "
                "which is not a number"
            ) from None
    return predictions


def build_records(
    items: Sequence[Item], predictions: Sequence[Prediction], scores: Scores
) -> list[dict[str, Any]]:
    """One record per item: what was guessed, how it scored, and what the model said."""
    records = []
    for i, (item, prediction) in enumerate(zip(items, predictions, strict=True)):
        record: dict[str, Any] = {
            "index": item.index,
            "title": item.title,
            "truth": item.price,
            "guess": float(scores.guess[i]),
            "error": float(scores.error[i]),
            "sle": float(scores.sle[i]),
            "colour": scores.colour[i],
        }
        if item.category:
            record["category"] = item.category
        if scores.clipped[i]:
            record["clipped_from"] = _as_json(prediction.guess)
        for key in ("raw", "input_tokens", "output_tokens", "cost", "latency"):
            value = getattr(prediction, key)
            if value is not None:
                record[key] = value
        record.update(prediction.extra)
        records.append(record)
    return records


def _as_json(guess: float) -> float | str | None:
    """A clipped guess as strict JSON holds it: NaN as null, an infinite one as ``"inf"`` or
    ``"-inf"`` (JSON has no infinity), any other as itself."""
    if math.isnan(guess):
        return None
    if math.isinf(guess):
        return "inf" if guess > 0 else "-inf"
    return guess


def clipped_kinds(guesses: Sequence[float]) -> dict[str, int]:
    """How many guesses were scored as $0 for each reason, in the order NaN, infinite, below 0
    (a reason none of them had is left out)."""
    kinds = {"NaN": 0, "infinite": 0, "below 0": 0}
    for guess in guesses:
        if math.isnan(guess):
            kinds["NaN"] += 1
        elif math.isinf(guess):
            kinds["infinite"] += 1
        elif guess < 0:
            kinds["below 0"] += 1
    return {kind: count for kind, count in kinds.items() if count}


def clipped_note(guesses: Sequence[float]) -> str | None:
    """``4 guesses were scored as $0: 1 NaN, 2 infinite, 1 below 0`` (None when none was)."""
    kinds = clipped_kinds(guesses)
    total = sum(kinds.values())
    if not total:
        return None
    parts = ", ".join(f"{count} {kind}" for kind, count in kinds.items())
    guesses_were = "1 guess was" if total == 1 else f"{total} guesses were"
    return f"{guesses_were} scored as $0: {parts}"


def _versions() -> dict[str, str]:
    return {"python": platform.python_version(), **results.package_versions()}


def _notes(
    summary: dict[str, Any],
    dataset: Dataset,
    records: Sequence[dict[str, Any]] = (),
    predictor_notes: Sequence[str] = (),
    guesses: Sequence[float] = (),
) -> list[str]:
    """What a reader of the summary line should know about how it was scored (``guesses``: as
    predicted, before clipping)."""
    notes = list(predictor_notes)
    clipped = clipped_note(guesses)
    if clipped:
        notes.append(clipped)
    elif summary["clipped"]:  # (no guesses given)
        notes.append(f"{summary['clipped']} guess(es) were NaN, infinite or below 0: scored as $0")
    if dataset.train_dropped_overlap:
        notes.append(
            f"dropped {dataset.train_dropped_overlap} training item(s) whose text is a test item's"
        )
    if dataset.edition == "2025":
        fixed = EDITION_SIZES["2025"]
        if len(dataset.test) == fixed:
            notes.append(
                f"2025 edition: its first {fixed} test items (fingerprint "
                f"{dataset.fingerprint[:12]}; no published fingerprint to check them against)"
            )
        else:
            notes.append(
                f"2025 edition, not its fixed {fixed}-item test set: {len(dataset.test)} items "
                f"(fingerprint {dataset.fingerprint[:12]})"
            )
    elif dataset.split == "validation":
        notes.append(
            f"scored on {len(dataset.test)} items held out of the training pool "
            f"(data.split=validation, fingerprint {dataset.fingerprint[:12]}), not the test set"
        )
    elif not dataset.canonical:
        notes.append(
            f"not the canonical 250-item test set (fingerprint {dataset.fingerprint[:12]})"
        )
    unreadable = [r for r in records if r.get("unparseable")]
    if unreadable:  # last, right above the summary line it qualifies
        first = unreadable[0]
        notes.append(
            f"{len(unreadable)} of {len(records)} replies held no price and were scored as $0 "
            f"(first: item {first['index']}: {str(first.get('raw') or '')[:60]!r})"
        )
    return notes


def build_metrics(
    name: str,
    title: str,
    summary: dict[str, Any],
    dataset: Dataset,
    timings: dict[str, float],
    extra: Mapping[str, Any] | None = None,
    line: str | None = None,
) -> dict[str, Any]:
    """``metrics.json``: the figures, the summary line, where the items came from, and what ran."""
    return {
        "predictor": name,
        "title": title,
        **summary,
        "summary_line": summary_line(title, summary, dataset.edition) if line is None else line,
        "fingerprint": dataset.fingerprint,
        "canonical": dataset.canonical,
        "edition": dataset.edition,
        "split": dataset.split,
        "data_source": dataset.source,
        "train": {
            "n": len(dataset.train),
            "source": dataset.train_source,
            "dropped_overlap": dataset.train_dropped_overlap,
        },
        **(dict(extra) if extra else {}),
        "timings": timings,
        "versions": _versions(),
        "git": results.git_state(),
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def _fit_and_predict(
    predictor: Predictor, settings: RunSettings, started: float, timings: dict[str, float]
) -> tuple[Dataset, list[Prediction]]:
    """Load the items, fit on the training ones, predict the test ones; time each step."""
    need_train = requires_fit(predictor)
    dataset = load_dataset(**settings.data, need_train=need_train)
    loaded = time.perf_counter()
    if need_train and not dataset.train:
        if dataset.train_dropped_overlap:
            raise PricebenchError(
                f"{settings.name} needs training items and all "
                f"{dataset.train_dropped_overlap} in {dataset.train_source} are test items "
                "(dropped, to keep the test unseen); set data.train_path to other items"
            )
        raise PricebenchError(
            f"{settings.name} needs training items and none were found; set data.train_path"
        )
    predictor.fit(dataset.train)
    fitted = time.perf_counter()
    predictions = predict_all(predictor, dataset.test, progress=settings.progress)
    timings["load_seconds"] = loaded - started
    timings["fit_seconds"] = fitted - loaded
    timings["predict_seconds"] = time.perf_counter() - fitted
    return dataset, predictions


def evaluate(
    predictor: Predictor,
    settings: RunSettings | None = None,
    *,
    tracker: Tracker | None = None,
    out: TextIO | None = None,
    **fields: Any,
) -> RunResult:
    """Fit, predict, score and store one run; print the course's lines; hand it to a tracker.

    ``fields`` are :class:`RunSettings` fields, given instead of ``settings`` or replacing some of
    its values (``evaluate(predictor, name=..., data=..., config=...)`` works too)."""
    if settings is None:
        settings = RunSettings(**fields)
    elif fields:
        settings = replace(settings, **fields)
    out = out or sys.stdout
    started = time.perf_counter()
    with ExitStack() as stack:
        if tracker is not None:  # the W&B worker starts now, to import wandb meanwhile
            tracker.start()
            stack.callback(tracker.close)  # stops it if the evaluation fails before handing over
        timings: dict[str, float] = {}
        dataset, predictions = _fit_and_predict(predictor, settings, started, timings)

        scores = score([item.price for item in dataset.test], [p.guess for p in predictions])
        summary = summarise(scores)
        records = build_records(dataset.test, predictions, scores)
        title = settings.title or label_of(predictor) or settings.name
        line = summary_line(title, summary, dataset.edition)
        extra = run_summary_of(predictor)
        guesses = [p.guess for p in predictions]
        notes = _notes(summary, dataset, records, notes_of(predictor), guesses)
        if notes:
            extra["notes"] = notes

        def chart(path: Path) -> None:
            truths, guesses = scores.truth.tolist(), scores.guess.tolist()
            report.save_chart(path, truths, guesses, scores.colour, line)

        def final_metrics() -> dict[str, Any]:
            timings["total_seconds"] = time.perf_counter() - started
            return build_metrics(settings.name, title, summary, dataset, timings, extra, line)

        stored_config = redact(dict(settings.config))
        run_dir, metrics = results.write_run(
            settings.results_dir, title, config=stored_config, records=records,
            metrics=final_metrics, chart=chart if settings.chart else None,
        )  # fmt: skip

        if not settings.quiet:
            report.print_items(records, report.use_colour(settings.colour, out), out)
        out.write("".join(f"note: {note}\n" for note in notes))
        out.write(f"{line}\nresults: {run_dir}\n")
        out.flush()
        if tracker is not None:
            context = {"name": settings.name, **settings.tracker_context}
            tracker.log_run(run_dir, metrics, records, stored_config, **context)
        return RunResult(run_dir, metrics, records, line)
