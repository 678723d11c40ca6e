"""Hostile data (issue 12, rows 3, 7, 8 and 10): test prices that cannot be scored, bytes that are
not UTF-8, indices given twice, titles that look like markup, and how clipped guesses are noted.

The command-line forms of these are in ``tests/hostile/cases_data.py``; these tests hold the
loaders, the chart and the notes to them directly.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest

from harness import report
from harness.data import decoded_lines, load_dataset, load_jsonl, load_pickle
from harness.errors import PricebenchError
from harness.evaluate import build_records, clipped_note
from harness.metrics import score


def _rows(data_dir: Path, n: int) -> list[dict]:
    with (data_dir / "test.jsonl").open() as f:
        return [json.loads(next(f)) for _ in range(n)]


def _write(path: Path, rows: list[dict], price_at: int | None = None, raw: str = "") -> Path:
    """``rows`` as JSONL; with ``price_at``, that row's price written as the JSON text ``raw``."""
    lines = [json.dumps(row) for row in rows]
    if price_at is not None:
        lines[price_at] = json.dumps({**rows[price_at], "price": "@@"}).replace('"@@"', raw)
    path.write_text("".join(line + "\n" for line in lines))
    return path


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("Infinity", "price Infinity is infinite"),
        ("-Infinity", "price -Infinity is infinite"),
        ("1e400", "price Infinity is infinite"),  # JSON reads it as infinity
        ('"inf"', "price 'inf' is infinite"),
        ("NaN", "price NaN is not a number"),
        ('"cheap"', "price 'cheap' is not a number"),
        ("true", "price True is not a number"),
        ("null", "price None is not a number"),
        ("[1]", r"price \[1\] is not a number"),
    ],
)
def test_a_price_that_is_no_finite_number_is_refused_with_file_and_line(
    tmp_path: Path, data_dir: Path, raw: str, reason: str
) -> None:
    path = _write(tmp_path / "test.jsonl", _rows(data_dir, 4), price_at=2, raw=raw)
    with pytest.raises(PricebenchError, match=rf"test\.jsonl:3: {reason}"):
        load_jsonl(path)


def test_a_numeric_string_price_is_still_read(tmp_path: Path, data_dir: Path) -> None:
    path = _write(tmp_path / "test.jsonl", _rows(data_dir, 2), price_at=1, raw='"12.50"')
    assert load_jsonl(path)[1].price == 12.5


@pytest.mark.parametrize(("raw", "shown"), [("-12.5", "-12.5"), ("0", "0"), ("-0.0", "-0")])
def test_a_test_price_not_above_0_is_refused_with_file_and_line(
    tmp_path: Path, data_dir: Path, raw: str, shown: str
) -> None:
    _write(tmp_path / "test.jsonl", _rows(data_dir, 4), price_at=3, raw=raw)
    with pytest.raises(PricebenchError, match=rf"test\.jsonl:4: price {shown} is not above 0 \("):
        load_dataset(str(tmp_path), size=4, need_train=False)


def test_a_bad_price_after_the_scored_items_is_refused_too(tmp_path: Path, data_dir) -> None:
    """The whole test file is checked (its later rows are the offline training pool)."""
    _write(tmp_path / "test.jsonl", _rows(data_dir, 6), price_at=5, raw="-1")
    with pytest.raises(PricebenchError, match=r"test\.jsonl:6: price -1 is not above 0"):
        load_dataset(str(tmp_path), size=2, need_train=False)


def test_line_numbers_count_blank_lines(tmp_path: Path, data_dir: Path) -> None:
    rows = _rows(data_dir, 2)
    path = tmp_path / "test.jsonl"
    path.write_text(json.dumps(rows[0]) + "\n\n" + json.dumps({**rows[1], "price": -3}) + "\n")
    with pytest.raises(PricebenchError, match=r"test\.jsonl:3: price -3 is not above 0"):
        load_dataset(str(tmp_path), size=2, need_train=False)


def test_a_course_pickle_with_an_infinite_price_names_the_item(tmp_path: Path, monkeypatch) -> None:
    import sys
    import types

    module = types.ModuleType("items")  # the course's items.Item, as its pickles refer to it

    class Item:
        pass

    Item.__module__, Item.__qualname__ = "items", "Item"
    module.Item = Item  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "items", module)
    course_items = []
    for price in (12.0, float("inf")):
        item = Item()
        item.__dict__.update(title="t", price=price, prompt="About it.\n\nPrice is $12.00")
        course_items.append(item)
    path = tmp_path / "test.pkl"
    path.write_bytes(pickle.dumps(course_items))
    with pytest.raises(PricebenchError, match=r"test\.pkl: item 1: price Infinity is infinite"):
        load_pickle(path)


def test_an_index_given_twice_in_the_test_file_is_refused(tmp_path: Path, data_dir) -> None:
    rows = _rows(data_dir, 4)
    rows[3]["index"] = rows[1]["index"]
    _write(tmp_path / "test.jsonl", rows)
    with pytest.raises(PricebenchError, match=r"test\.jsonl:4: index 1 again \(first on line 2\)"):
        load_dataset(str(tmp_path), size=4, need_train=False)


@pytest.mark.parametrize(
    ("index", "shown"), [("two", "'two'"), (1.5, "1.5"), (True, "True"), (None, "None")]
)
def test_an_index_that_is_no_whole_number_is_refused(
    tmp_path: Path, data_dir: Path, index: object, shown: str
) -> None:
    rows = _rows(data_dir, 2)
    rows[1]["index"] = index
    with pytest.raises(PricebenchError, match=rf"test\.jsonl:2: index {shown} is not a whole"):
        load_jsonl(_write(tmp_path / "test.jsonl", rows))


def test_a_whole_number_index_in_another_form_is_still_read(tmp_path: Path, data_dir) -> None:
    rows = _rows(data_dir, 2)
    rows[0]["index"], rows[1]["index"] = "7", 8.0
    assert [item.index for item in load_jsonl(_write(tmp_path / "t.jsonl", rows))] == [7, 8]


def test_bytes_that_are_not_utf8_name_the_line_and_column(tmp_path: Path, data_dir) -> None:
    path = _write(tmp_path / "test.jsonl", _rows(data_dir, 3))
    lines = path.read_bytes().split(b"\n")
    lines[1] = lines[1].replace(b'"title": "', b'"title": "caf\xe9 ', 1)
    path.write_bytes(b"\n".join(lines))
    column = lines[1].index(b"\xe9") + 1
    with pytest.raises(
        PricebenchError,
        match=rf"test\.jsonl:2: not UTF-8 text \(byte 0xe9 at column {column}\); save the file",
    ):
        load_jsonl(path)


def test_a_byte_order_mark_is_dropped_from_the_first_line_only(tmp_path: Path) -> None:
    path = tmp_path / "f.txt"
    path.write_bytes(b"\xef\xbb\xbfone\n\xef\xbb\xbftwo\n")
    assert list(decoded_lines(path)) == [(1, "one\n"), (2, "\ufefftwo\n")]


def test_a_utf8_file_with_a_byte_order_mark_loads(tmp_path: Path, data_dir: Path) -> None:
    path = _write(tmp_path / "test.jsonl", _rows(data_dir, 2))
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    assert [item.index for item in load_jsonl(path)] == [0, 1]


@pytest.mark.parametrize("size", [0, -3, True, "5", 2.5])
def test_data_size_must_be_a_positive_whole_number(data_dir: Path, size: object) -> None:
    with pytest.raises(PricebenchError, match=r"data\.size must be a positive number of items"):
        load_dataset(str(data_dir), size=size, need_train=False)  # type: ignore[arg-type]


@pytest.mark.parametrize("train_size", [0, -1])
def test_data_train_size_must_be_positive_or_null(data_dir: Path, train_size: int) -> None:
    """``train[:-1]`` would silently drop the last item; ``0`` would silently mean all."""
    with pytest.raises(PricebenchError, match=rf"data\.train_size .*not {train_size}$"):
        load_dataset(str(data_dir), size=5, train_size=train_size)


# --- text a user typed is text ----------------------------------------------------------------


@pytest.mark.parametrize("title", ["Under $^{ deals", r"$\frac{1}{$", "Widget [/bold] pro"])
def test_the_chart_title_is_drawn_as_typed(tmp_path: Path, title: str, monkeypatch) -> None:
    from matplotlib.figure import Figure

    drawn: list[object] = []
    monkeypatch.setattr(Figure, "savefig", lambda self, *a, **k: drawn.append(self))
    report.save_chart(tmp_path / "chart.png", [10.0, 20.0], [12.0, 18.0], ["green"] * 2, title)
    (figure,) = drawn
    text = figure.axes[0].title  # type: ignore[attr-defined]
    assert text.get_text() == title and text.get_parse_math() is False


def test_a_mathtext_title_is_saved(tmp_path: Path) -> None:
    path = report.save_chart(
        tmp_path / "chart.png", [10.0, 20.0], [12.0, 18.0], ["green"] * 2, "Under $^{ deals"
    )
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_chart_spans_the_largest_finite_value(tmp_path: Path, monkeypatch) -> None:
    from matplotlib.figure import Figure

    drawn: list[object] = []
    monkeypatch.setattr(Figure, "savefig", lambda self, *a, **k: drawn.append(self))
    truths, guesses = [10.0, 300.0], [float("inf"), 40.0]
    report.save_chart(tmp_path / "c.png", truths, guesses, ["red", "green"], "t")
    axes = drawn[0].axes[0]  # type: ignore[attr-defined]
    assert axes.get_xlim() == (0.0, 300.0) and axes.get_ylim() == (0.0, 300.0)


def test_per_item_lines_show_titles_as_plain_text_on_one_line() -> None:
    record = {"guess": 1.0, "truth": 2.0, "error": 1.0, "sle": 0.1, "colour": "green"}
    line = report.item_line(0, {**record, "title": "Widget [/bold] $^{ \x1b[2J\nnext"})
    assert line.endswith("Item: Widget [/bold] $^{  [2J next")
    assert "\n" not in line and "\x1b" not in line


def test_a_course_title_is_unchanged_on_its_line() -> None:
    title = "OEM AC Compressor w/A/C Repair Kit For Ford F150 F-150 V8 & Lincoln Mark LT 2007"
    assert report.short_title(title) == title[:40] + "..."


# --- guesses scored as $0: what each was ------------------------------------------------------


def test_the_note_on_clipped_guesses_says_what_they_were() -> None:
    nan, inf = float("nan"), float("inf")
    note = clipped_note([nan, inf, -inf, -2.0, 5.0, 0.0])
    assert note == "4 guesses were scored as $0: 1 NaN, 2 infinite, 1 below 0"
    assert clipped_note([inf]) == "1 guess was scored as $0: 1 infinite"
    assert clipped_note([1.0, 0.0]) is None


def test_a_clipped_infinite_guess_is_stored_as_strict_json() -> None:
    from harness.data import Item
    from harness.predictor import Prediction

    items = [Item(index=i, title="t", price=10.0, text="x") for i in range(4)]
    guesses = [float("inf"), float("-inf"), float("nan"), -2.0]
    records = build_records(items, [Prediction(g) for g in guesses], score([10.0] * 4, guesses))
    assert [r["clipped_from"] for r in records] == ["inf", "-inf", None, -2.0]
    assert [r["guess"] for r in records] == [0.0] * 4
    json.dumps(records, allow_nan=False)


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("details", 5, "details 5 is not an object"),
        ("details", ["a"], r"details \['a'\] is not an object"),
        ("category", ["a"], r"category \['a'\] is not text"),
        ("category", 7, "category 7 is not text"),
    ],
)
def test_details_and_category_of_the_wrong_kind_are_refused(
    tmp_path: Path, data_dir: Path, field: str, value: object, reason: str
) -> None:
    rows = _rows(data_dir, 3)
    rows[2][field] = value
    with pytest.raises(PricebenchError, match=rf"test\.jsonl:3: {reason}"):
        load_jsonl(_write(tmp_path / "test.jsonl", rows))


@pytest.mark.parametrize(
    ("override", "reason"),
    [
        ("data.size=abc", "data.size=abc: Value 'abc' of type 'str' could not be converted to Int"),
        ("data.size=2.5", "data.size=2.5: Value '2.5' of type 'float' could not be converted"),
        ("data.test_pool=maybe", "data.test_pool=maybe: Value 'maybe' is not a valid bool"),
        ("data.train_size=many", "data.train_size=many: Value 'many' of type 'str' could not"),
    ],
)
def test_data_values_of_the_wrong_type_fail_at_composition(override: str, reason: str) -> None:
    """The data schema (harness/schema.py) types every data key: one line naming it."""
    from harness.run import compose

    with pytest.raises(PricebenchError, match=reason) as refused:
        compose([override])
    assert "\n" not in str(refused.value)
