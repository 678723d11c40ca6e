"""Replays recorded guesses: a CSV ``index,guess``, a JSONL of predictions (such as a previous
run's ``predictions.jsonl``), or the course's ``human_output.csv`` (``prompt,guess``, no header),
matched to the items by prompt text."""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Sequence
from pathlib import Path

from harness.data import Item
from harness.errors import PricebenchError
from harness.predictor import Prediction, PredictorBase

Key = int | str  # an item index, or a prompt text


def _number(value: object, where: str) -> float:
    try:
        guess = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise PricebenchError(f"{where}: guess {value!r} is not a number") from None
    if math.isnan(guess) and str(value).strip().lower() not in ("nan", ""):
        raise PricebenchError(f"{where}: guess {value!r} is not a number")
    return guess


def _read_csv(path: Path) -> dict[Key, tuple[float, str | None]]:
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    if not rows:
        raise PricebenchError(f"{path} is empty")
    header = [cell.strip().lower() for cell in rows[0]]
    recorded: dict[Key, tuple[float, str | None]] = {}
    if "guess" in header and ("index" in header or "prompt" in header or "text" in header):
        key_col = "index" if "index" in header else ("prompt" if "prompt" in header else "text")
        k, g = header.index(key_col), header.index("guess")
        for lineno, row in enumerate(rows[1:], 2):
            if not row:
                continue
            where = f"{path}:{lineno}"
            if len(row) <= max(k, g):
                raise PricebenchError(f"{where}: expected columns {', '.join(header)}")
            key: Key = _index(row[k], where) if key_col == "index" else row[k]
            recorded[key] = (_number(row[g], where), None)
        return recorded
    # the course's human_output.csv: prompt, guess, no header
    for lineno, row in enumerate(rows, 1):
        if not row:
            continue
        if len(row) != 2:
            raise PricebenchError(
                f"{path}:{lineno}: expected `index,guess` with a header, or `prompt,guess` rows"
            )
        recorded[row[0]] = (_number(row[1], f"{path}:{lineno}"), None)
    return recorded


def _index(value: object, where: str) -> int:
    try:
        index: int = int(value)  # type: ignore[call-overload]
        return index
    except (TypeError, ValueError):
        raise PricebenchError(f"{where}: index {value!r} is not a whole number") from None


def _read_jsonl(path: Path) -> dict[Key, tuple[float, str | None]]:
    recorded: dict[Key, tuple[float, str | None]] = {}
    with path.open(encoding="utf-8") as handle:
        for lineno, line in enumerate(handle, 1):
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
            recorded[key] = (_number(row["guess"], where), raw if isinstance(raw, str) else None)
    return recorded


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

    def _load(self) -> dict[Key, tuple[float, str | None]]:
        if not self.path:
            raise PricebenchError("the replay predictor needs predictor.path=FILE (CSV or JSONL)")
        path = Path(self.path).expanduser()
        if not path.is_file():
            raise PricebenchError(f"replay file {path} does not exist; fix predictor.path")
        if path.suffix.lower() in (".jsonl", ".json"):
            return _read_jsonl(path)
        return _read_csv(path)

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
        return [Prediction(recorded[key][0], raw=recorded[key][1]) for key in keys]
