"""Replays recorded guesses: a CSV ``index,guess``, a JSONL of predictions (such as a previous
run's ``predictions.jsonl``), or the course's ``human_output.csv`` (``prompt,guess``, no header),
matched to the items by prompt text."""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterable, Sequence
from pathlib import Path

from harness.data import Item, decoded_lines, not_utf8, title_from_text
from harness.errors import PricebenchError, warn
from harness.predictor import Prediction, PredictorBase

Key = int | str  # an item index, or a prompt text
Recorded = dict[Key, tuple[float, str | None]]


def _number(value: object, where: str) -> float:
    try:
        if isinstance(value, bool):  # (float(True) is 1.0)
            raise TypeError
        guess = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise PricebenchError(f"{where}: guess {value!r} is not a number") from None
    if math.isnan(guess) and str(value).strip().lower() not in ("nan", ""):
        raise PricebenchError(f"{where}: guess {value!r} is not a number")
    return guess


def _shown(key: Key) -> str:
    """A recorded key as a message names it: ``index 7`` or ``prompt 'OEM AC Compressor...'``."""
    return f"index {key}" if isinstance(key, int) else f"prompt {title_from_text(key)[:40]!r}"


class _Recording:
    """Guesses by key, each key once: a key seen again is refused, naming both lines."""

    def __init__(self) -> None:
        self.guesses: Recorded = {}
        self.lines: dict[Key, int] = {}

    def add(self, key: Key, value: tuple[float, str | None], lineno: int, where: str) -> None:
        if key in self.lines:
            raise PricebenchError(
                f"{where}: {_shown(key)} again (first on line {self.lines[key]}); "
                "keep one guess per item"
            )
        self.lines[key] = lineno
        self.guesses[key] = value


def _csv_rows(path: Path) -> Iterable[tuple[int, list[str]]]:
    """``(first line number, cells)`` of each CSV row (a quoted cell may span lines)."""
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        lineno = raw.count(b"\n", 0, exc.start) + 1
        line_start = raw.rfind(b"\n", 0, exc.start) + 1
        line = raw[line_start:].split(b"\n", 1)[0]
        raise PricebenchError(not_utf8(path, lineno, line, exc.start - line_start)) from None
    reader = csv.reader(io.StringIO(text, newline=""))
    lineno = 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise PricebenchError(
                f"{path}:{reader.line_num}: not a readable CSV ({exc}); fix that line"
            ) from None
        yield lineno, row
        lineno = reader.line_num + 1


def _read_csv(path: Path) -> Recorded:
    rows = list(_csv_rows(path))
    if not rows:
        raise PricebenchError(f"{path} is empty")
    header = [cell.strip().lower() for cell in rows[0][1]]
    recording = _Recording()
    if "guess" in header and ("index" in header or "prompt" in header or "text" in header):
        key_col = "index" if "index" in header else ("prompt" if "prompt" in header else "text")
        k, g = header.index(key_col), header.index("guess")
        for lineno, row in rows[1:]:
            if not row:
                continue
            where = f"{path}:{lineno}"
            if len(row) <= max(k, g):
                raise PricebenchError(f"{where}: expected columns {', '.join(header)}")
            key: Key = _index(row[k], where) if key_col == "index" else row[k]
            recording.add(key, (_number(row[g], where), None), lineno, where)
        return recording.guesses
    # the course's human_output.csv: prompt, guess, no header
    for lineno, row in rows:
        if not row:
            continue
        where = f"{path}:{lineno}"
        if len(row) != 2:
            raise PricebenchError(
                f"{where}: expected `index,guess` with a header, or `prompt,guess` rows"
            )
        recording.add(row[0], (_number(row[1], where), None), lineno, where)
    return recording.guesses


def _index(value: object, where: str) -> int:
    try:
        if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
            raise ValueError
        index: int = int(value)  # type: ignore[call-overload]
        return index
    except (TypeError, ValueError, OverflowError):
        raise PricebenchError(f"{where}: index {value!r} is not a whole number") from None


def _read_jsonl(path: Path) -> Recorded:
    recording = _Recording()
    for lineno, line in decoded_lines(path):
        if not line.strip():
            continue
        where = f"{path}:{lineno}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise PricebenchError(f"{where}: malformed JSON ({exc.msg})") from None
        if not isinstance(row, dict) or "guess" not in row:
            raise PricebenchError(f"{where}: each line needs a `guess` and an `index`")
        if "index" in row:
            key: Key = _index(row["index"], where)
        elif "text" in row or "prompt" in row:
            key = str(row.get("text", row.get("prompt")))
        else:
            raise PricebenchError(f"{where}: each line needs an `index` (or a `text`)")
        raw = row.get("raw")
        value = (_number(row["guess"], where), raw if isinstance(raw, str) else None)
        recording.add(key, value, lineno, where)
    return recording.guesses


class ReplayPricer(PredictorBase):
    """Plays back guesses recorded in ``path``."""

    requires_fit = False

    def __init__(self, path: str | None = None) -> None:
        self.path = path

    @property
    def label(self) -> str:
        """The recording's name (its file name without the ending), used as the run's title."""
        return Path(self.path).stem if self.path else "replay"

    def fit(self, train_items: Sequence[Item]) -> ReplayPricer:
        return self

    def _load(self) -> Recorded:
        if not self.path:
            raise PricebenchError("the replay predictor needs predictor.path=FILE (CSV or JSONL)")
        path = Path(self.path).expanduser()
        if path.is_dir():
            raise PricebenchError(
                f"replay file {path} is a folder, not a file; set predictor.path to the CSV or "
                "JSONL recording inside it"
            )
        if not path.exists():
            raise PricebenchError(f"replay file {path} does not exist; fix predictor.path")
        if not path.is_file():
            raise PricebenchError(f"replay file {path} is not a regular file; fix predictor.path")
        try:
            if path.suffix.lower() in (".jsonl", ".json"):
                return _read_jsonl(path)
            return _read_csv(path)
        except OSError as exc:
            raise PricebenchError(
                f"cannot read replay file {path} ({exc.strerror or exc}); fix predictor.path"
            ) from None

    def predict(self, items: Sequence[Item]) -> list[Prediction]:
        recorded = self._load()
        by_text = any(isinstance(key, str) for key in recorded)
        keys: list[Key] = [item.text if by_text else item.index for item in items]
        missing = [item for item, key in zip(items, keys, strict=True) if key not in recorded]
        if missing:
            first = missing[0]
            raise PricebenchError(
                f"{self.path} has no guess for {len(missing)} of the {len(items)} items "
                f"(first: item {first.index}, {first.title[:50]!r}); "
                "record every item or lower data.size"
            )
        wanted = set(keys)
        unused = [key for key in recorded if key not in wanted]
        if unused:
            n = len(unused)
            warn(
                f"{self.path} holds {n} guess{'' if n == 1 else 'es'} for no item of this run "
                f"(first: {_shown(unused[0])}); they are not scored"
            )
        return [Prediction(recorded[key][0], raw=recorded[key][1]) for key in keys]
