"""One bad run folder among good ones (issue 12, row 2), in-process and fast: every kind of bad
folder in tests/hostile/cases_board.py, in every format, with --aggregate mean and --compare. The
folder is skipped with one warning line naming it and why; the good runs are still on the board."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from harness import leaderboard, leaderboard_cli
from tests.hostile.cases_board import BAD, BAD_FOLDERS, FORMATS, GOOD, spoiled, write_good_run

KINDS = [pytest.param(spoil, file, why, id=id_) for id_, file, spoil, why in BAD_FOLDERS]


@pytest.mark.parametrize(("spoil", "file", "why"), KINDS)
def test_the_bad_folder_is_unreadable_and_says_why(
    tmp_path: Path, spoil: Callable[[str], str | bytes | None], file: str, why: str
) -> None:
    spoiled(file, spoil)(tmp_path)
    with pytest.raises(leaderboard.UnreadableRun, match=why if "\\d" in why else None) as info:
        leaderboard.read_run(tmp_path / "results" / BAD)
    if "\\d" not in why:
        assert str(info.value).startswith(why)
    assert "\n" not in str(info.value)
    for title, _, seed in GOOD:
        (good,) = (tmp_path / "results").glob(f"2026010{seed}-*_{title}_*")
        assert leaderboard.read_run(good).metrics["title"] == title


@pytest.mark.parametrize("fmt", [*FORMATS, "mean", "latest"])
@pytest.mark.parametrize(("spoil", "file", "why"), KINDS)
def test_every_format_skips_the_bad_folder_with_one_warning(
    tmp_path: Path, capsys, spoil: Callable[[str], str | bytes | None], file: str, why: str,
    fmt: str,
) -> None:  # fmt: skip
    spoiled(file, spoil)(tmp_path)
    args = ["--results", str(tmp_path / "results"), "--bootstrap", "20"]
    if fmt in ("mean", "latest"):
        args += ["--aggregate", fmt, "--format", "markdown"]
    else:
        args += ["--format", fmt, "--output", str(tmp_path / "board.out")]
    leaderboard_cli.main(args)
    captured = capsys.readouterr()
    (warning,) = captured.err.splitlines()
    assert warning.startswith(
        f"pricebench-leaderboard: warning: skipped {tmp_path / 'results' / BAD}: "
    )
    out = (tmp_path / "board.out").read_text() if fmt in FORMATS else captured.out
    assert all(title in out for title, _, _ in GOOD) and BAD not in out


def test_the_table_on_the_terminal_skips_it_too(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "300")  # no folding of the names
    spoiled("metrics.json", lambda text: "[]")(tmp_path)
    leaderboard_cli.main(["--results", str(tmp_path / "results"), "--bootstrap", "20"])
    captured = capsys.readouterr()
    assert len(captured.err.splitlines()) == 1 and "holds a JSON list" in captured.err
    assert "narrow" in captured.out and "wide" in captured.out and "spoiled" not in captured.out


def test_compare_reads_only_the_two_runs_it_names(tmp_path: Path, capsys) -> None:
    spoiled("metrics.json", lambda text: "[]")(tmp_path)
    results_dir = str(tmp_path / "results")
    leaderboard_cli.main(["--results", results_dir, "--compare", "20260101", "20260102-000000_w"])
    captured = capsys.readouterr()
    assert captured.err == "" and "shared items: 40" in captured.out
    with pytest.raises(SystemExit) as exit_info:
        leaderboard_cli.main(["--results", results_dir, "--compare", "20260101", BAD])
    assert exit_info.value.code == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line == (
        f"pricebench-leaderboard: error: cannot read run {tmp_path / 'results' / BAD}: "
        "metrics.json holds a JSON list, not an object"
    )


def test_a_good_folder_reads_as_before(tmp_path: Path) -> None:
    path = write_good_run(tmp_path / "results", "plain", 0.3, 1)
    run = leaderboard.read_run(path)
    assert len(run.records) == 40 and run.config == {"predictor": {"name": "constant", "seed": 1}}
    (path / "config.yaml").unlink()  # a missing config is no reason to skip a run
    assert leaderboard.read_run(path).config == {}
