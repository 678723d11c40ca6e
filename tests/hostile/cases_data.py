"""Hostile cases: test data, recordings, charts and per-item lines.

Each data case writes a small ``test.jsonl`` (the first rows of the shared one, then corrupted)
in the case's folder and points ``data.path`` at it; each recording case writes a small replay
file beside it. Five items are enough: such a set is not canonical, which the runs say.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

from tests.hostile.cases import DATA_DIR, Case

N = 5  # items in a case's test set
RUN = ["tracker=none", "data.path={tmp}/data", f"data.size={N}", "results.dir={tmp}/r"]


def _rows(n: int = N) -> list[dict]:
    with (DATA_DIR / "test.jsonl").open(encoding="utf-8") as f:
        return [json.loads(next(f)) for _ in range(n)]


def _data(change: Callable[[list[bytes]], None] | None = None) -> Callable[[Path], None]:
    """A setup writing ``data/test.jsonl`` of N good rows, as bytes lines ``change`` may edit
    (line k of the file is ``lines[k - 1]``)."""

    def setup(tmp: Path) -> None:
        lines = [json.dumps(row).encode() + b"\n" for row in _rows()]
        if change is not None:
            change(lines)
        (tmp / "data").mkdir()
        (tmp / "data" / "test.jsonl").write_bytes(b"".join(lines))

    return setup


def _price(line: int, raw: str) -> Callable[[Path], None]:
    """Test data whose line ``line`` has the price written as ``raw`` (JSON text)."""

    def change(lines: list[bytes]) -> None:
        row = json.loads(lines[line - 1])
        text = json.dumps({**row, "price": "@@"}).replace('"@@"', raw)
        lines[line - 1] = text.encode() + b"\n"

    return _data(change)


def _with_field(line: bytes, **fields: object) -> bytes:
    return json.dumps({**json.loads(line), **fields}).encode() + b"\n"


def _with_recording(name: str, content: bytes, data: Callable[[Path], None] | None = None):
    def setup(tmp: Path) -> None:
        (data or _data())(tmp)
        (tmp / name).write_bytes(content)

    return setup


def _csv(*rows: str) -> bytes:
    return ("index,guess\n" + "".join(f"{row}\n" for row in rows)).encode()


def _no_run_stored(tmp: Path, done: subprocess.CompletedProcess) -> None:
    assert not (tmp / "r").exists() or not any((tmp / "r").iterdir()), "a run folder was left"


def _one_full_run(tmp: Path) -> Path:
    (run,) = [p for p in (tmp / "r").iterdir() if p.is_dir()]
    assert (run / "metrics.json").is_file() and (run / "chart.png").is_file()
    return run


def _stored_as_strict_json(tmp: Path, done: subprocess.CompletedProcess) -> None:
    run = _one_full_run(tmp)

    def refuse(constant: str) -> None:
        raise AssertionError(f"{constant} stored: not strict JSON")

    for name in ("predictions.jsonl", "metrics.json"):
        text = (run / name).read_text(encoding="utf-8")
        for line in text.splitlines() if name.endswith("l") else [text]:
            json.loads(line, parse_constant=refuse)


def _prompt_csv(rows: list[tuple[str, str]]) -> bytes:
    import csv
    import io

    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue().encode()


def _duplicate_prompts(tmp: Path) -> None:
    _data()(tmp)
    from harness.data import test_prompt

    prompts = [test_prompt(row["text"]) for row in _rows()]
    rows = [(p, "10") for p in prompts] + [(prompts[1], "99")]
    (tmp / "human_output.csv").write_bytes(_prompt_csv(rows))


REPLAY = ["predictor=replay", *RUN]

CASES: list[Case] = [
    # --- row 3: test prices that cannot be scored, refused at load (file, line, reason) -------
    Case(
        id="test-price-infinity",
        row=3,
        command="pricebench",
        args=["predictor=random", *RUN],
        setup=_price(3, "Infinity"),
        expect=r"^pricebench: error: .*/data/test\.jsonl:3: price Infinity is infinite",
        check=_no_run_stored,
    ),
    Case(
        id="test-price-infinity-no-chart",
        row=3,
        command="pricebench",
        args=["predictor=random", *RUN, "chart=false"],
        setup=_price(3, "Infinity"),
        expect=r"^pricebench: error: .*/data/test\.jsonl:3: price Infinity is infinite",
        check=_no_run_stored,
    ),
    Case(
        id="test-price-1e400",
        row=3,
        command="pricebench",
        args=["predictor=random", *RUN],
        setup=_price(2, "1e400"),
        expect=r"^pricebench: error: .*/data/test\.jsonl:2: price .* is infinite",
    ),
    Case(
        id="test-price-nan",
        row=3,
        command="pricebench",
        args=["predictor=random", *RUN],
        setup=_price(4, "NaN"),
        expect=r"^pricebench: error: .*/data/test\.jsonl:4: price NaN is not a number",
    ),
    Case(
        id="test-price-negative",
        row=3,
        command="pricebench",
        args=["predictor=random", *RUN],
        setup=_price(5, "-12.5"),
        expect=r"^pricebench: error: .*/data/test\.jsonl:5: price -12\.5 is not above 0",
    ),
    Case(
        id="test-price-zero",
        row=0,
        command="pricebench",
        args=["predictor=random", *RUN],
        setup=_price(1, "0"),
        expect=r"^pricebench: error: .*/data/test\.jsonl:1: price 0(\.0)? is not above 0",
    ),
    Case(
        id="test-price-string",
        row=3,
        command="pricebench",
        args=["predictor=random", *RUN],
        setup=_price(2, '"cheap"'),
        expect=r"^pricebench: error: .*/data/test\.jsonl:2: price 'cheap' is not a number",
    ),
    Case(
        id="test-price-true",
        row=0,
        command="pricebench",
        args=["predictor=random", *RUN],
        setup=_price(2, "true"),
        expect=r"^pricebench: error: .*/data/test\.jsonl:2: price True is not a number",
    ),
    Case(
        id="test-price-null",
        row=0,
        command="pricebench",
        args=["predictor=random", *RUN],
        setup=_price(2, "null"),
        expect=r"^pricebench: error: .*/data/test\.jsonl:2: price None is not a number",
    ),
    Case(
        id="guess-infinity-is-charted",
        row=3,
        command="pricebench",
        args=[*REPLAY, "predictor.path={tmp}/inf.csv"],
        setup=_with_recording("inf.csv", _csv("0,inf", "1,12", "2,-inf", "3,nan", "4,-3")),
        exit_code=0,
        stream="stdout",
        expect=r"^note: 4 guesses were scored as \$0: 1 NaN, 2 infinite, 1 below 0$",
        check=_stored_as_strict_json,
    ),
    Case(
        id="guess-huge-is-charted",
        row=0,
        command="pricebench",
        args=[*REPLAY, "predictor.path={tmp}/huge.csv"],
        setup=_with_recording("huge.csv", _csv("0,1e308", "1,12", "2,3", "3,4", "4,5")),
        exit_code=0,
        stream="stdout",
        expect=r"^huge Error=\$",
        check=lambda tmp, done: _one_full_run(tmp) and None,
    ),
    # --- row 4: a recording with an index twice, or indices of no item --------------------------
    Case(
        id="replay-duplicate-index",
        row=4,
        command="pricebench",
        args=[*REPLAY, "predictor.path={tmp}/dup.csv"],
        setup=_with_recording("dup.csv", _csv("0,1", "1,2", "2,3", "1,9", "3,4", "4,5")),
        expect=r"^pricebench: error: .*/dup\.csv:5: index 1 again \(first on line 3\)",
        check=_no_run_stored,
    ),
    Case(
        id="replay-duplicate-index-jsonl",
        row=4,
        command="pricebench",
        args=[*REPLAY, "predictor.path={tmp}/dup.jsonl"],
        setup=_with_recording(
            "dup.jsonl",
            "".join(json.dumps({"index": i % 4, "guess": 10}) + "\n" for i in range(6)).encode(),
        ),
        expect=r"^pricebench: error: .*/dup\.jsonl:5: index 0 again \(first on line 1\)",
    ),
    Case(
        id="replay-duplicate-prompt",
        row=4,
        command="pricebench",
        args=[*REPLAY, "predictor.path={tmp}/human_output.csv"],
        setup=_duplicate_prompts,
        expect=r"^pricebench: error: .*/human_output\.csv:\d+: prompt .* again "
        r"\(first on line \d+\)",
    ),
    Case(
        id="replay-unknown-indices",
        row=4,
        command="pricebench",
        args=[*REPLAY, "predictor.path={tmp}/extra.csv"],
        setup=_with_recording("extra.csv", _csv(*(f"{i},10" for i in (0, 1, 2, 3, 4, 900, 77)))),
        exit_code=0,
        expect=r"^pricebench: warning: .*/extra\.csv holds 2 guesses for no item of this run "
        r"\(first: index 900\); they are not scored$",
        check=lambda tmp, done: _one_full_run(tmp) and None,
    ),
    # --- row 7: text a user typed is text, not mathtext or markup -------------------------------
    Case(
        id="title-mathtext",
        row=7,
        command="pricebench",
        args=["predictor=random", *RUN, "title='Under $^{ deals'"],
        setup=_data(),
        exit_code=0,
        stream="stdout",
        expect=r"^Under \$\^\{ deals Error=\$",
        check=lambda tmp, done: _one_full_run(tmp) and None,
    ),
    Case(
        id="product-title-markup",
        row=7,
        command="pricebench",
        args=["predictor=random", *RUN],
        setup=_data(
            lambda lines: lines.__setitem__(
                0,
                (
                    json.dumps({**json.loads(lines[0]), "title": "Widget [/bold] $^{ \x1b[2J pro"})
                ).encode()
                + b"\n",
            )
        ),
        exit_code=0,
        stream="stdout",
        expect=r"^1: Guess: .* Item: Widget \[/bold\] \$\^\{ .\[2J pro$",
        check=lambda tmp, done: _one_full_run(tmp) and None,
    ),
    # --- row 8: bytes that are not UTF-8, and data.size of the wrong type or range --------------
    Case(
        id="test-data-not-utf8",
        row=8,
        command="pricebench",
        args=["predictor=random", *RUN],
        setup=_data(lambda lines: lines.__setitem__(3, lines[3].replace(b"a", b"\xe9", 1))),
        expect=r"^pricebench: error: .*/data/test\.jsonl:4: not UTF-8 text \(byte 0xe9",
    ),
    Case(
        id="replay-csv-not-utf8",
        row=8,
        command="pricebench",
        args=[*REPLAY, "predictor.path={tmp}/latin1.csv"],
        setup=_with_recording("latin1.csv", b"index,guess\n0,1\n1,2\n2,3\xa3\n"),
        expect=r"^pricebench: error: .*/latin1\.csv:4: not UTF-8 text \(byte 0xa3",
    ),
    Case(
        id="replay-jsonl-not-utf8",
        row=0,
        command="pricebench",
        args=[*REPLAY, "predictor.path={tmp}/bad.jsonl"],
        setup=_with_recording(
            "bad.jsonl", b'{"index": 0, "guess": 1}\n{"index": 1, "gu\xffess": 2}\n'
        ),
        expect=r"^pricebench: error: .*/bad\.jsonl:2: not UTF-8 text \(byte 0xff",
    ),
    Case(
        id="data-size-abc",
        row=8,
        command="pricebench",
        args=["predictor=random", *RUN[:2], "data.size=abc", "results.dir={tmp}/r"],
        setup=_data(),
        expect=r"^pricebench: error: .*data\.size=abc.*could not be converted to Integer",
    ),
    Case(
        id="data-size-negative",
        row=8,
        command="pricebench",
        args=["predictor=random", *RUN[:2], "data.size=-3", "results.dir={tmp}/r"],
        setup=_data(),
        expect=r"^pricebench: error: .*data\.size.*-3",
    ),
    Case(
        id="data-size-zero",
        row=8,
        command="pricebench",
        args=["predictor=random", *RUN[:2], "data.size=0", "results.dir={tmp}/r"],
        setup=_data(),
        expect=r"^pricebench: error: .*data\.size.*\b0\b",
    ),
    Case(
        id="data-size-fraction",
        row=0,
        command="pricebench",
        args=["predictor=random", *RUN[:2], "data.size=2.5", "results.dir={tmp}/r"],
        setup=_data(),
        expect=r"^pricebench: error: .*data\.size=2\.5",
    ),
    Case(
        id="data-size-null",
        row=0,
        command="pricebench",
        args=["predictor=random", *RUN[:2], "data.size=null", "results.dir={tmp}/r"],
        setup=_data(),
        expect=r"^pricebench: error: .*data\.size",
    ),
    # --- row 10: what a message says -------------------------------------------------------------
    Case(
        id="replay-path-is-a-folder",
        row=10,
        command="pricebench",
        args=[*REPLAY, "predictor.path={tmp}/data"],
        setup=_data(),
        expect=r"^pricebench: error: replay file .*/data is a folder, not a file",
    ),
    # --- beyond the table ------------------------------------------------------------------------
    Case(
        id="test-data-utf8-bom",
        row=0,
        command="pricebench",
        args=["predictor=random", *RUN],
        setup=_data(lambda lines: lines.__setitem__(0, b"\xef\xbb\xbf" + lines[0])),
        exit_code=0,
        stream="stdout",
        expect=r"^random Error=\$",
    ),
    Case(
        id="test-index-not-a-number",
        row=0,
        command="pricebench",
        args=["predictor=random", *RUN],
        setup=_data(
            lambda lines: lines.__setitem__(
                1, json.dumps({**json.loads(lines[1]), "index": "two"}).encode() + b"\n"
            )
        ),
        expect=r"^pricebench: error: .*/data/test\.jsonl:2: index 'two' is not a whole number",
    ),
    Case(
        id="test-index-twice",
        row=0,
        command="pricebench",
        args=["predictor=random", *RUN],
        setup=_data(
            lambda lines: lines.__setitem__(
                3, json.dumps({**json.loads(lines[3]), "index": 1}).encode() + b"\n"
            )
        ),
        expect=r"^pricebench: error: .*/data/test\.jsonl:4: index 1 again \(first on line 2\)",
    ),
    Case(
        id="replay-csv-nul-byte",
        row=0,
        command="pricebench",
        args=[*REPLAY, "predictor.path={tmp}/nul.csv"],
        setup=_with_recording("nul.csv", _csv("0,1", "1,\x002", "2,3")),
        expect=r"^pricebench: error: .*/nul\.csv:3: guess '\\x002' is not a number",
    ),
    Case(
        id="replay-csv-huge-field",
        row=0,
        command="pricebench",
        args=[*REPLAY, "predictor.path={tmp}/huge-field.csv"],
        setup=_with_recording("huge-field.csv", _csv("0,1", "1," + "9" * 200_000)),
        expect=r"^pricebench: error: .*/huge-field\.csv:3: not a readable CSV \(field larger",
    ),
    Case(
        id="replay-index-true",
        row=0,
        command="pricebench",
        args=[*REPLAY, "predictor.path={tmp}/bool.jsonl"],
        setup=_with_recording("bool.jsonl", b'{"index": true, "guess": 1}\n'),
        expect=r"^pricebench: error: .*/bool\.jsonl:1: index True is not a whole number",
    ),
    Case(
        id="replay-index-fraction",
        row=0,
        command="pricebench",
        args=[*REPLAY, "predictor.path={tmp}/frac.csv"],
        setup=_with_recording("frac.csv", _csv("0,1", "1.5,2")),
        expect=r"^pricebench: error: .*/frac\.csv:3: index '1\.5' is not a whole number",
    ),
    Case(
        id="test-details-not-an-object",
        row=0,
        command="pricebench",
        args=["predictor=linear_features", *RUN, "data.train_path={tmp}/data/test.jsonl"],
        setup=_data(lambda lines: lines.__setitem__(2, _with_field(lines[2], details=5))),
        expect=r"^pricebench: error: .*/data/test\.jsonl:3: details 5 is not an object",
    ),
    Case(
        id="test-category-a-list",
        row=0,
        command="pricebench",
        args=["predictor=random", *RUN],
        setup=_data(lambda lines: lines.__setitem__(1, _with_field(lines[1], category=["a"]))),
        expect=r"^pricebench: error: .*/data/test\.jsonl:2: category \['a'\] is not text",
    ),
    Case(
        id="train-data-is-the-test-data",
        row=0,
        command="pricebench",
        args=["predictor=bow_lr", *RUN, "data.train_path={tmp}/data/test.jsonl"],
        setup=_data(),
        expect=r"^pricebench: error: bow_lr needs training items and all 5 in .*/data/test\.jsonl "
        r"are test items",
    ),
    Case(
        id="data-train-size-negative",
        row=0,
        command="pricebench",
        args=["predictor=constant", *RUN, "data.train_size=-1"],
        setup=_data(),
        expect=r"^pricebench: error: .*data\.train_size.*-1",
    ),
]


# --- the 2025 edition's data (data=items_lite / items_full) ------------------------------------

RUN_2025 = ["data=items_lite", "tracker=none", "data.path={tmp}/d25", "results.dir={tmp}/r"]


def _data_2025(
    n_test: int = 200, change: Callable[[list[dict]], None] | None = None, train: bool = True
) -> Callable[[Path], None]:
    """A setup writing ``d25/test.jsonl`` (and ``train.jsonl``) in the 2025 schema from real items;
    ``change`` may edit the test rows first."""

    def setup(tmp: Path) -> None:
        from tests.editions import rows_2025, write_rows

        (tmp / "d25").mkdir()
        rows = rows_2025(DATA_DIR / "test.jsonl", n_test)
        if change is not None:
            change(rows)
        write_rows(rows, tmp / "d25" / "test.jsonl", "jsonl")
        if train:
            write_rows(
                rows_2025(DATA_DIR / "train_sample.jsonl", 20), tmp / "d25" / "train.jsonl", "jsonl"
            )

    return setup


def _set(position: int, **fields: object) -> Callable[[list[dict]], None]:
    def change(rows: list[dict]) -> None:
        rows[position].update(fields)

    return change


def _drop(position: int, key: str) -> Callable[[list[dict]], None]:
    def change(rows: list[dict]) -> None:
        del rows[position][key]

    return change


def _train_2024_beside_2025(tmp: Path) -> None:
    _data_2025(train=False)(tmp)
    (tmp / "d25" / "train.jsonl").write_bytes((DATA_DIR / "train_sample.jsonl").read_bytes())


CASES += [
    Case(
        id="items-lite-over-the-2024-data",
        row=0,
        command="pricebench",
        args=[
            "predictor=constant",
            "data=items_lite",
            f"data.path={DATA_DIR}",
            "results.dir={tmp}/r",
        ],
        expect=r"^pricebench: error: .*/test\.jsonl holds test items in the 2024 edition's schema "
        r"\(text\).*use data=pricer",
        check=_no_run_stored,
    ),
    Case(
        id="pricer-over-2025-data",
        row=0,
        command="pricebench",
        args=["predictor=constant", "data.path={tmp}/d25", "results.dir={tmp}/r"],
        setup=_data_2025(),
        expect=r"^pricebench: error: .*/d25/test\.jsonl holds test items in the 2025 edition's "
        r"schema .*use data=items_lite",
        check=_no_run_stored,
    ),
    Case(
        id="items-lite-path-missing",
        row=0,
        command="pricebench",
        args=["predictor=constant", *RUN_2025[:-2], "data.path={tmp}/nowhere"],
        expect=r"^pricebench: error: data path .*/nowhere does not exist; set data.path=DIR "
        r"\(or PRICEBENCH_DATA_2025=DIR\)",
    ),
    Case(
        id="data-edition-unknown",
        row=0,
        command="pricebench",
        args=["predictor=constant", *RUN_2025, "data.edition=2026"],
        setup=_data_2025(),
        expect=r"^pricebench: error: data\.edition must be one of 2024, 2025, not '2026'",
    ),
    Case(
        id="items-lite-too-few-test-items",
        row=0,
        command="pricebench",
        args=["predictor=constant", *RUN_2025],
        setup=_data_2025(n_test=150),
        expect=r"^pricebench: error: .*/d25/test\.jsonl holds 150 items but data\.size=200; "
        r"lower data\.size",
    ),
    Case(
        id="items-lite-row-without-prompt",
        row=0,
        command="pricebench",
        args=["predictor=constant", *RUN_2025],
        setup=_data_2025(change=_drop(3, "prompt")),
        expect=r"^pricebench: error: .*/d25/test\.jsonl:4: missing field\(s\) prompt \(the 2025 "
        r"schema: title, category, price, full, weight, summary, prompt, id\)",
    ),
    Case(
        id="items-lite-prompt-a-number",
        row=0,
        command="pricebench",
        args=["predictor=constant", *RUN_2025],
        setup=_data_2025(change=_set(0, prompt=5)),
        expect=r"^pricebench: error: .*/d25/test\.jsonl:1: prompt 5 is not text",
    ),
    Case(
        id="items-lite-summary-a-list",
        row=0,
        command="pricebench",
        args=["predictor=bow_lr", *RUN_2025],
        setup=_data_2025(change=_set(7, summary=["a"])),
        expect=r"^pricebench: error: .*/d25/test\.jsonl:8: summary \['a'\] is not text",
    ),
    Case(
        id="items-lite-price-text",
        row=0,
        command="pricebench",
        args=["predictor=constant", *RUN_2025],
        setup=_data_2025(change=_set(1, price="cheap")),
        expect=r"^pricebench: error: .*/d25/test\.jsonl:2: price 'cheap' is not a number",
    ),
    Case(
        id="items-lite-price-zero",
        row=0,
        command="pricebench",
        args=["predictor=constant", *RUN_2025],
        setup=_data_2025(change=_set(5, price=0)),
        expect=r"^pricebench: error: .*/d25/test\.jsonl:6: price 0 is not above 0",
    ),
    Case(
        id="items-lite-train-in-2024-schema",
        row=0,
        command="pricebench",
        args=["predictor=bow_lr", *RUN_2025],
        setup=_train_2024_beside_2025,
        expect=r"^pricebench: error: .*/d25/train\.jsonl holds training items in the 2024 "
        r"edition's schema",
        check=_no_run_stored,
    ),
    Case(
        id="items-lite-summary-holds-the-answer",
        row=0,
        command="pricebench",
        args=["predictor=constant", "predictor.value=120", *RUN_2025, "quiet=true"],
        setup=_data_2025(change=_set(0, summary="Lamp\n\nPrice is $374.00")),
        expect=r"^constant Error=\$",
        stream="stdout",
        exit_code=0,
    ),
]
