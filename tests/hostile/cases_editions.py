"""Hostile tries at the editions' metrics, boards and ``pricebench-reproduce --edition`` (issue 13,
items 2 and 3). Issue 13 has no table of rows: every case here is one tried beyond it (row 0)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from harness import results
from harness.data import CANONICAL_FINGERPRINT
from tests.editions import write_items_2025
from tests.hostile.cases import DATA_DIR, Case


def _items(tmp: Path) -> None:
    write_items_2025(tmp / "items", n_test=200, n_train=10)
    (tmp / "rec").mkdir()


def _recording(text: str | bytes) -> Callable[[Path], None]:
    def setup(tmp: Path) -> None:
        _items(tmp)
        path = tmp / "rec" / "gpt-5.1.csv"
        path.write_bytes(text if isinstance(text, bytes) else text.encode())

    return setup


def _board(edition: object) -> Callable[[Path], None]:
    """A store with one good 2024 run and one 2025 run whose metrics.json has ``edition``."""

    def setup(tmp: Path) -> None:
        from tests.test_board_editions import write_run

        root = tmp / "results"
        write_run(root, "20261201-000000_good_000001", 0.3, 1, edition=None,
                  fingerprint=CANONICAL_FINGERPRINT, n=250)  # fmt: skip
        bad = write_run(root, "20261202-000000_bad_000002", 0.3, 2, edition="2025",
                        fingerprint="a" * 64, n=200)  # fmt: skip
        metrics = json.loads((bad / results.METRICS_FILE).read_text())
        results.write_json(bad / results.METRICS_FILE, {**metrics, "edition": edition})

    return setup


ARGS = ["--edition", "2025", "--recordings", "{tmp}/rec", "--data", "{tmp}/items",
        "--results", "{tmp}/r"]  # fmt: skip

CASES = [
    Case(
        id="reproduce-unknown-edition",
        row=0,
        command="pricebench-reproduce",
        args=["--edition", "2030"],
        expect=r"^pricebench-reproduce: error: argument --edition: invalid choice: '2030' "
        r"\(choose from '2024', '2025'\) \(see pricebench-reproduce --help\)$",
    ),
    Case(
        id="reproduce-2025-recordings-folder-missing",
        row=0,
        command="pricebench-reproduce",
        args=["--edition", "2025", "--recordings", "{tmp}/nowhere"],
        expect=r"^pricebench-reproduce: error: no folder \S*/nowhere$",
    ),
    Case(
        id="reproduce-2025-recording-not-utf8",
        row=0,
        command="pricebench-reproduce",
        args=ARGS,
        setup=_recording(b"index,guess\n\xff\n"),
        expect=r"^pricebench-reproduce: error: gpt-5\.1: \S*gpt-5\.1\.csv:2: not UTF-8 text",
    ),
    Case(
        id="reproduce-2025-recording-guess-not-a-number",
        row=0,
        command="pricebench-reproduce",
        args=ARGS,
        setup=_recording("index,guess\n0,abc\n"),
        expect=r"^pricebench-reproduce: error: gpt-5\.1: \S*gpt-5\.1\.csv:2: guess 'abc' is not "
        r"a number$",
    ),
    Case(
        id="reproduce-2025-recording-too-short",
        row=0,
        command="pricebench-reproduce",
        args=ARGS,
        setup=_recording("index,guess\n0,10\n"),
        expect=r"^pricebench-reproduce: error: gpt-5\.1: \S*gpt-5\.1\.csv has no guess for 199 "
        r"of the 200 items",
    ),
    Case(
        id="reproduce-2025-data-of-the-2024-edition",
        row=0,
        command="pricebench-reproduce",
        args=[*ARGS[:-4], "--data", str(DATA_DIR), "--results", "{tmp}/r"],
        setup=_recording("index,guess\n0,10\n"),
        expect=r"^pricebench-reproduce: error: gpt-5\.1: \S*test\.jsonl holds test items in the "
        r"2024 edition's schema",
    ),
    Case(
        id="board-run-of-an-unknown-edition",
        row=0,
        command="pricebench-leaderboard",
        args=["--results", "{tmp}/results", "--format", "markdown", "--bootstrap", "20"],
        setup=_board("2030"),
        exit_code=0,
        expect=r"^pricebench-leaderboard: warning: skipped \S*_bad_000002: metrics.json's "
        r"'edition' is '2030', not one of '2024', '2025'$",
    ),
    Case(
        id="board-run-whose-edition-is-a-list",
        row=0,
        command="pricebench-leaderboard",
        args=["--results", "{tmp}/results", "--format", "csv", "--bootstrap", "20"],
        setup=_board(["2025"]),
        exit_code=0,
        expect=r"^pricebench-leaderboard: warning: skipped \S*_bad_000002: metrics.json's "
        r"'edition' is \['2025'\], not one of '2024', '2025'$",
    ),
]
