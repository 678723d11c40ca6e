"""The replay predictor: every recording shape, and the errors a bad recording gets."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from harness.data import load_dataset
from harness.errors import PricebenchError
from predictors.replay import ReplayPricer


@pytest.fixture(scope="module")
def items(data_dir: Path):
    return load_dataset(str(data_dir), need_train=False).test


def _guesses(path: Path, items) -> list[float]:
    return [p.guess for p in ReplayPricer(str(path)).fit([]).predict(items)]


def test_indexed_csv(data_dir: Path, items) -> None:
    path = data_dir / "reference" / "human.csv"
    with path.open() as f:
        expected = [float(r["guess"]) for r in csv.DictReader(f)]
    assert _guesses(path, items) == expected


def test_course_human_output_is_matched_by_prompt(data_dir: Path, items) -> None:
    by_prompt = _guesses(data_dir / "human_output.csv", items)
    by_index = _guesses(data_dir / "reference" / "human.csv", items)
    assert by_prompt == by_index


def test_course_human_output_in_another_order_still_matches(data_dir, items, tmp_path) -> None:
    rows = list(csv.reader((data_dir / "human_output.csv").open(newline="")))
    shuffled = tmp_path / "human_shuffled.csv"
    with shuffled.open("w", newline="") as f:
        csv.writer(f).writerows(reversed(rows))
    assert _guesses(shuffled, items) == [float(g) for _, g in rows]


def test_jsonl_of_predictions_keeps_raw_replies(tmp_path: Path, items) -> None:
    path = tmp_path / "predictions.jsonl"
    path.write_text(
        "".join(
            json.dumps({"index": i, "guess": i + 0.5, "raw": f"r{i}"}) + "\n" for i in range(250)
        )
    )
    predictions = ReplayPricer(str(path)).predict(items)
    assert predictions[3].guess == 3.5 and predictions[3].raw == "r3"


def test_missing_items_say_how_many_and_which_first(tmp_path: Path, items) -> None:
    path = tmp_path / "partial.csv"
    path.write_text("index,guess\n" + "".join(f"{i},10\n" for i in range(250) if i not in (7, 9)))
    with pytest.raises(PricebenchError, match=r"no guess for 2 of the 250 items \(first: item 7,"):
        ReplayPricer(str(path)).predict(items)


def test_non_numeric_guess_names_the_line(tmp_path: Path, items) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("index,guess\n0,12\n1,twelve\n")
    with pytest.raises(PricebenchError, match=r"bad.csv:3: guess 'twelve' is not a number"):
        ReplayPricer(str(path)).predict(items)


def test_missing_file_and_missing_path(tmp_path: Path, items) -> None:
    with pytest.raises(PricebenchError, match="does not exist; fix predictor.path"):
        ReplayPricer(str(tmp_path / "nope.csv")).predict(items)
    with pytest.raises(PricebenchError, match="needs predictor.path"):
        ReplayPricer().predict(items)


def test_label_is_the_recording_name() -> None:
    assert ReplayPricer("x/gpt-4o-mini.csv").label == "gpt-4o-mini"
