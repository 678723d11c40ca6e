"""Text a user typed is text on every leaderboard (issue 12, row 6): titles, predictor and model
names and run folder names never reach rich markup, and HTML stays escaped."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from harness import leaderboard_cli
from tests.hostile.cases_board import good_runs, write_good_run

MARKUP = "Widget [/bold] pro"
MODEL = "[red]model[/red] [link=http://x]y[/link]"
HTML = "<script>alert(1)</script> & <b>"


@pytest.fixture
def results_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("COLUMNS", "400")  # names not folded across lines
    results = good_runs(tmp_path)
    write_good_run(results, MARKUP, 0.2, 3, model=MODEL, predictor="[bold]p")
    write_good_run(results, HTML, 0.25, 4, model=HTML, predictor=HTML,
                   folder="20260104-000000_[b]x[-b]_000004")  # fmt: skip
    return results


def board(results_dir: Path, capsys: pytest.CaptureFixture[str], *args: str) -> str:
    leaderboard_cli.main(["--results", str(results_dir), "--bootstrap", "20", *args])
    captured = capsys.readouterr()
    assert captured.err == ""
    return captured.out


def test_the_terminal_table_shows_markup_as_typed(results_dir: Path, capsys) -> None:
    out = board(results_dir, capsys)
    assert MARKUP in out and MODEL in out and "20260104-000000_[b]x[-b]_000004" in out
    assert HTML in out


def test_markdown_and_csv_keep_the_names(results_dir: Path, capsys) -> None:
    markdown = board(results_dir, capsys, "--format", "markdown")
    assert f"| {MARKUP} | {MODEL} |" in markdown
    rows = list(csv.DictReader(io.StringIO(board(results_dir, capsys, "--format", "csv"))))
    by_title = {row["title"]: row for row in rows}
    assert by_title[MARKUP]["model"] == MODEL and by_title[MARKUP]["predictor"] == "[bold]p"
    assert by_title[HTML]["predictor"] == HTML and by_title[HTML]["model"] == HTML


def test_html_escapes_every_name(results_dir: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "board.html"
    board(results_dir, capsys, "--format", "html", "--output", str(out))
    page = out.read_text()
    assert "<script>alert" not in page and "<b>" not in page
    escaped = "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;b&gt;"
    assert page.count(escaped) >= 3  # the title and model cells, the run's section heading
    assert MARKUP in page and "[red]model[/red]" in page
