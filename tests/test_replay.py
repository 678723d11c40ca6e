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


# --- issue 12: recordings that are ambiguous, foreign or not files ----------------------------


def test_an_index_recorded_twice_is_refused_naming_both_lines(tmp_path: Path, items) -> None:
    path = tmp_path / "dup.csv"
    path.write_text("index,guess\n" + "".join(f"{i},10\n" for i in range(250)) + "12,99\n")
    with pytest.raises(PricebenchError, match=r"dup.csv:252: index 12 again \(first on line 14\)"):
        ReplayPricer(str(path)).predict(items)


def test_an_index_recorded_twice_in_jsonl_is_refused(tmp_path: Path, items) -> None:
    path = tmp_path / "dup.jsonl"
    rows = [{"index": i, "guess": 1} for i in (*range(250), 3)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(PricebenchError, match=r"dup.jsonl:251: index 3 again \(first on line 4\)"):
        ReplayPricer(str(path)).predict(items)


def test_a_prompt_recorded_twice_is_refused_at_the_line_its_row_starts(
    data_dir: Path, tmp_path: Path, items
) -> None:
    """The course's prompts span lines: a row's line is where it starts in the file."""
    rows = list(csv.reader((data_dir / "human_output.csv").open(newline="")))
    path = tmp_path / "human_output.csv"
    with path.open("w", newline="") as f:
        csv.writer(f).writerows([*rows, [rows[1][0], "1"]])
    text = path.read_text()
    quoted = '"' + rows[1][0].replace('"', '""') + '"'  # as csv.writer wrote it
    last_row_line = text.count("\n", 0, text.rindex(quoted)) + 1
    second_row_line = text.count("\n", 0, text.index(quoted)) + 1
    assert second_row_line > 2  # (the first row's prompt spans lines)
    with pytest.raises(
        PricebenchError,
        match=rf"human_output.csv:{last_row_line}: prompt '.*' again "
        rf"\(first on line {second_row_line}\); keep one guess per item",
    ):
        ReplayPricer(str(path)).predict(items)


def test_guesses_for_no_item_of_the_run_are_one_warning(tmp_path: Path, items, capsys) -> None:
    path = tmp_path / "extra.csv"
    path.write_text("index,guess\n" + "".join(f"{i},10\n" for i in (*range(250), 9000, 250)))
    guesses = _guesses(path, items)
    assert guesses == [10.0] * 250
    err = [line for line in capsys.readouterr().err.splitlines() if line]
    assert err == [
        f"pricebench: warning: {path} holds 2 guesses for no item of this run "
        "(first: index 9000); they are not scored"
    ]


def test_a_recording_of_exactly_the_run_warns_nothing(data_dir: Path, items, capsys) -> None:
    _guesses(data_dir / "reference" / "human.csv", items)
    _guesses(data_dir / "human_output.csv", items)
    assert capsys.readouterr().err == ""


def test_a_recording_longer_than_a_smaller_run_says_so(data_dir: Path, items, capsys) -> None:
    _guesses(data_dir / "human_output.csv", items[:10])
    (line,) = capsys.readouterr().err.splitlines()
    first = "prompt 'Viking Horns 3 Gallon Air Tank and 200 P'"  # item 10, the first not run
    assert f"holds 240 guesses for no item of this run (first: {first})" in line


def test_bytes_that_are_not_utf8_name_the_line(tmp_path: Path, items) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes(b'prompt,guess\n"two\nlines",1\n"caf\xe9",2\n')
    with pytest.raises(
        PricebenchError, match=r"latin1.csv:4: not UTF-8 text \(byte 0xe9 at column 5\)"
    ):
        ReplayPricer(str(path)).predict(items)


def test_a_csv_saved_with_a_byte_order_mark_is_read(tmp_path: Path, items) -> None:
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbfindex,guess\n" + b"".join(b"%d,7\n" % i for i in range(250)))
    assert _guesses(path, items) == [7.0] * 250


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ({"index": True, "guess": 1}, "index True is not a whole number"),
        ({"index": 1.5, "guess": 1}, "index 1.5 is not a whole number"),
        ({"index": 1, "guess": True}, "guess True is not a number"),
        ({"index": 1, "guess": None}, "guess None is not a number"),
    ],
)
def test_json_values_of_the_wrong_kind_are_refused(tmp_path: Path, items, row, reason) -> None:
    path = tmp_path / "odd.jsonl"
    path.write_text(json.dumps(row) + "\n")
    with pytest.raises(PricebenchError, match=rf"odd.jsonl:1: {reason}"):
        ReplayPricer(str(path)).predict(items)


def test_an_infinite_guess_is_replayed_as_recorded(tmp_path: Path, items) -> None:
    path = tmp_path / "inf.csv"
    path.write_text(
        "index,guess\n" + "".join(f"{i},{'inf' if i == 4 else 1}\n" for i in range(250))
    )
    assert _guesses(path, items)[4] == float("inf")  # scored as $0 and noted, not refused


def test_a_folder_is_named_a_folder(tmp_path: Path, items) -> None:
    with pytest.raises(PricebenchError, match=r"replay file .* is a folder, not a file"):
        ReplayPricer(str(tmp_path)).predict(items)
