"""Hostile cases: leaderboards, the sweep callback, ties with the leader.

Run folders are written here directly, in the format :mod:`harness.results` writes (``config.yaml``,
``predictions.jsonl``, ``metrics.json``), rather than made by running pricebench (≈1.5 s each):
:func:`write_good_run` makes a finished run on a fixed made-up item set, and each bad-folder case
spoils one file of one folder among good ones.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from harness.data import CANONICAL_FINGERPRINT
from harness.metrics import score, summarise, summary_line
from tests.hostile.cases import Case

N_ITEMS = 40
GOOD = ("narrow", 0.1, 1), ("wide", 0.9, 2)  # two good runs: (title, guess spread, seed)
BAD = "20260102-000000_spoiled_bad000"  # the folder each bad-folder case spoils


def write_good_run(
    results_dir: Path,
    title: str,
    spread: float = 0.3,
    seed: int = 1,
    folder: str | None = None,
    **metrics: Any,
) -> Path:
    """A finished run folder: ``N_ITEMS`` made-up items (the same truths in every run, so runs
    can be compared item by item), guesses within ``spread`` of the truth; ``metrics`` override
    fields of ``metrics.json``."""
    truths = np.random.default_rng(0).uniform(10, 500, N_ITEMS)
    guesses = truths * np.random.default_rng(seed).uniform(1 - spread, 1 + spread, N_ITEMS)
    scores = score(truths, guesses)
    summary = summarise(scores)
    name = folder or f"2026010{seed}-000000_{re.sub(r'[^A-Za-z0-9]+', '-', title)}_{seed:06d}"
    path = results_dir / name
    path.mkdir(parents=True)
    stored = {
        "predictor": "constant", "title": title, **summary,
        "summary_line": summary_line(title, summary), "fingerprint": CANONICAL_FINGERPRINT,
        "created_at": f"2026-01-0{seed}T00:00:00+00:00", **metrics,
    }  # fmt: skip
    records = [
        {"index": i, "title": f"item {i}", "truth": float(t), "guess": float(g),
         "error": float(e), "category": "Toys"}
        for i, (t, g, e) in enumerate(zip(truths, scores.guess, scores.error, strict=True))
    ]  # fmt: skip
    (path / "config.yaml").write_text(f"predictor:\n  name: constant\n  seed: {seed}\n")
    (path / "predictions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    (path / "metrics.json").write_text(json.dumps(stored, indent=2))
    return path


def good_runs(tmp: Path) -> Path:
    results_dir = tmp / "results"
    for title, spread, seed in GOOD:
        write_good_run(results_dir, title, spread, seed)
    return results_dir


def spoiled(file: str, spoil: Callable[[str], str | bytes | None]) -> Callable[[Path], None]:
    """Setup: the good runs, and one more whose ``file`` is replaced by ``spoil(its text)``."""

    def setup(tmp: Path) -> None:
        results_dir = good_runs(tmp)
        path = write_good_run(results_dir, "spoiled", 0.5, 3, folder=BAD)
        target = path / file
        new = spoil(target.read_text())
        if new is None:
            target.unlink()
        elif isinstance(new, bytes):
            target.write_bytes(new)
        else:
            target.write_text(new)

    return setup


def edit_metrics(change: Callable[[dict[str, Any]], Any]) -> Callable[[str], str]:
    def spoil(text: str) -> str:
        metrics = json.loads(text)
        return json.dumps(change(metrics) or metrics)

    return spoil


def the_good_rows_printed(tmp: Path, done: subprocess.CompletedProcess) -> None:
    """Both good runs are on the board; the spoiled one is not (the warning aside)."""
    out = (tmp / "board.out").read_text() if (tmp / "board.out").is_file() else done.stdout
    for title, _, _ in GOOD:
        assert title in out, out
    assert "spoiled" not in out.replace(BAD, ""), out
    assert BAD not in out, out


def the_board_printed(tmp: Path, done: subprocess.CompletedProcess) -> None:
    assert "Widget [/bold] pro" in done.stdout, done.stdout


FORMATS = ("table", "markdown", "csv", "html")
SKIPPED = rf"^pricebench-leaderboard: warning: skipped .*{BAD}: "

# (id, file, how it is spoiled, the reason the warning gives)
BAD_FOLDERS: list[tuple[str, str, Callable[[str], str | bytes | None], str]] = [
    ("metrics-list", "metrics.json", lambda text: "[1, 2, 3]",
     "metrics.json holds a JSON list, not an object"),
    ("metrics-no-error", "metrics.json", edit_metrics(lambda m: m.pop("error") and None),
     "metrics.json has no 'error'"),
    ("metrics-error-text", "metrics.json", edit_metrics(lambda m: m.update(error="abc")),
     "metrics.json's 'error' is 'abc', not a number"),
    ("metrics-error-nan", "metrics.json", edit_metrics(lambda m: m.update(error=float("nan"))),
     "metrics.json's 'error' is nan, not a finite number"),
    ("metrics-truncated", "metrics.json", lambda text: text[: len(text) // 2],
     "metrics.json is not valid JSON"),
    ("metrics-not-utf8", "metrics.json", lambda text: b"\xff\xfe{",
     "metrics.json is not UTF-8 text"),
    ("metrics-fingerprint-list", "metrics.json",
     edit_metrics(lambda m: m.update(fingerprint=["a"])),
     "metrics.json's 'fingerprint' is ['a'], not text"),
    ("metrics-cost-text", "metrics.json", edit_metrics(lambda m: m.update(cost="free")),
     "metrics.json's 'cost' is 'free', not a number"),
    ("predictions-truncated", "predictions.jsonl", lambda text: text[: len(text) // 2 + 7],
     r"predictions.jsonl line \d+ is not valid JSON"),
    ("predictions-short", "predictions.jsonl",
     lambda text: "".join(text.splitlines(keepends=True)[:10]),
     rf"predictions.jsonl holds 10 records, but metrics.json says n={N_ITEMS}"),
    ("predictions-garbled", "predictions.jsonl", lambda text: text.replace('"truth"', '"trut"', 1),
     "predictions.jsonl line 1 has no 'truth'"),
    ("predictions-missing", "predictions.jsonl", lambda text: None, "no predictions.jsonl"),
    ("predictions-duplicate-index", "predictions.jsonl",
     lambda text: text.replace('"index": 1,', '"index": 0,', 1),
     "predictions.jsonl line 2 repeats item index 0"),
    ("config-garbled", "config.yaml", lambda text: "predictor: [unclosed\n",
     "config.yaml is not valid YAML"),
    ("config-list", "config.yaml", lambda text: "- 1\n- 2\n", "config.yaml holds a list"),
]  # fmt: skip


def _bad_folder_cases() -> list[Case]:
    """Each bad folder in one format (in turn), two of them in every format; every one in every
    format, in-process, in tests/test_board_bad_folders.py."""
    cases = []
    for k, (id_, file, spoil, why) in enumerate(BAD_FOLDERS):
        every = id_ in ("metrics-list", "predictions-truncated")
        for fmt in FORMATS if every else FORMATS[k % len(FORMATS) : k % len(FORMATS) + 1]:
            args = ["--results", "{tmp}/results", "--format", fmt, "--bootstrap", "50"]
            if fmt == "html":
                args += ["--output", "{tmp}/board.out"]
            cases.append(
                Case(
                    id=f"board-bad-folder-{id_}-{fmt}",
                    row=2,
                    command="pricebench-leaderboard",
                    args=args,
                    expect=SKIPPED + re.escape(why) if "\\d" not in why else SKIPPED + why,
                    exit_code=0,
                    setup=spoiled(file, spoil),
                    check=the_good_rows_printed,
                    env={"COLUMNS": "300"},
                )  # fmt: skip
            )
    return cases


def _mean_and_compare_cases() -> list[Case]:
    return [
        Case(
            id="board-bad-folder-aggregate-mean", row=2, command="pricebench-leaderboard",
            args=["--results", "{tmp}/results", "--aggregate", "mean", "--format", "markdown"],
            expect=SKIPPED + re.escape("metrics.json holds a JSON list"), exit_code=0,
            setup=spoiled("metrics.json", lambda text: "[1]"), check=the_good_rows_printed,
        ),
        Case(
            id="board-bad-folder-aggregate-latest", row=2, command="pricebench-leaderboard",
            args=["--results", "{tmp}/results", "--aggregate", "latest", "--format", "csv"],
            expect=SKIPPED + "predictions.jsonl", exit_code=0,
            setup=spoiled("predictions.jsonl", lambda text: text[:-30]),
            check=the_good_rows_printed,
        ),
        Case(  # the two runs compared are good: the bad folder beside them is not even read
            id="board-compare-beside-a-bad-folder", row=2, command="pricebench-leaderboard",
            args=["--results", "{tmp}/results", "--compare", "20260101", "20260102-000000_wide"],
            expect=r"^verdict: ", exit_code=0, stream="stdout",
            setup=spoiled("metrics.json", lambda text: "[1]"),
            check=lambda tmp, done: _no_stderr(done),
        ),
        Case(  # comparing the bad folder itself: one line naming it and why
            id="board-compare-the-bad-folder", row=2, command="pricebench-leaderboard",
            args=["--results", "{tmp}/results", "--compare", "20260101", BAD],
            expect=rf"^pricebench-leaderboard: error: cannot read run .*{BAD}: "
            + re.escape("metrics.json has no 'error'"),
            setup=spoiled("metrics.json", edit_metrics(lambda m: m.pop("error") and None)),
        ),
        Case(
            id="board-compare-the-bad-folder-by-path", row=2, command="pricebench-leaderboard",
            args=["--results", "{tmp}/results", "--compare", f"{{tmp}}/results/{BAD}", "20260101"],
            expect=rf"^pricebench-leaderboard: error: cannot read run .*{BAD}: .*predictions",
            setup=spoiled("predictions.jsonl", lambda text: text[: len(text) // 3]),
        ),
    ]  # fmt: skip


def _no_stderr(done: subprocess.CompletedProcess) -> None:
    assert done.stderr == "", done.stderr


def _markup_title(tmp: Path) -> None:
    results_dir = good_runs(tmp)
    write_good_run(results_dir, "Widget [/bold] pro", 0.2, 3, model="[red]model[/red]")


def _markup_cases() -> list[Case]:
    cases = []
    for fmt in FORMATS:
        args = ["--results", "{tmp}/results", "--format", fmt, "--bootstrap", "50"]
        if fmt == "html":
            args += ["--output", "{tmp}/board.html"]
        expect = r"Widget \[/bold\] pro" if fmt != "html" else r"^wrote .*board.html$"
        cases.append(
            Case(
                id=f"board-markup-title-{fmt}",
                row=6,
                command="pricebench-leaderboard",
                args=args,
                expect=expect,
                exit_code=0,
                stream="stdout",
                setup=_markup_title,
                env={"COLUMNS": "300"},
                check=_markup_check(fmt),
            )  # fmt: skip
        )
    return cases


def _markup_check(fmt: str) -> Callable[[Path, subprocess.CompletedProcess], None]:
    def check(tmp: Path, done: subprocess.CompletedProcess) -> None:
        if fmt == "html":
            page = (tmp / "board.html").read_text()
            assert "Widget [/bold] pro" in page and "[red]model[/red]" in page
        else:
            assert "[red]model[/red]" in done.stdout, done.stdout
        assert done.stderr == "", done.stderr

    return check


def _html_title(tmp: Path) -> None:
    results_dir = good_runs(tmp)
    write_good_run(results_dir, "<b>bold</b> & <script>x</script>", 0.2, 3,
                   predictor="<i>p</i>", model="<img src=x onerror=alert(1)>")  # fmt: skip


def _html_escaped(tmp: Path, done: subprocess.CompletedProcess) -> None:
    page = (tmp / "board.html").read_text()
    for raw in ("<b>bold</b>", "<script>x</script>", "<img src=x", "<i>p</i>"):
        assert raw not in page, raw
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; &lt;script&gt;x&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page


def _pipe_title(tmp: Path) -> None:
    results_dir = good_runs(tmp)
    write_good_run(results_dir, "a | b\nc", 0.2, 3)


def _pipe_check(tmp: Path, done: subprocess.CompletedProcess) -> None:
    rows = [line for line in done.stdout.splitlines() if line.startswith("| ")]
    assert all(line.endswith(" |") for line in rows), done.stdout
    assert any("a \\| b c" in line for line in rows), done.stdout


def _write(path: Path, text: str) -> None:
    path.write_text(text)


def _good_runs_and_a_file(tmp: Path) -> None:
    good_runs(tmp)
    _write(tmp / "f", "a file")


def _all_bad(tmp: Path) -> None:
    """Every folder unreadable: the good ones lose their metrics, the last one its error."""
    spoiled("metrics.json", edit_metrics(lambda m: m.pop("error") and None))(tmp)
    for path in (tmp / "results").iterdir():
        if path.name != BAD:
            _write(path / "metrics.json", "{}")


def _ties(tmp: Path) -> None:
    results_dir = tmp / "results"
    write_good_run(results_dir, "leader", 0.1, 1)
    write_good_run(results_dir, "twin", 0.1, 1, folder="20260101-000000_twin_000009")
    write_good_run(results_dir, "far", 0.95, 2)


CASES: list[Case] = [
    *_bad_folder_cases(),
    *_mean_and_compare_cases(),
    *_markup_cases(),
    Case(
        id="board-html-names-escaped", row=6, command="pricebench-leaderboard",
        args=["--results", "{tmp}/results", "--format", "html", "--output", "{tmp}/board.html"],
        expect=r"^wrote ", exit_code=0, stream="stdout", setup=_html_title, check=_html_escaped,
    ),
    Case(  # a pipe or a newline in a title must not break the Markdown table
        id="board-markdown-pipe-and-newline-in-title", row=6, command="pricebench-leaderboard",
        args=["--results", "{tmp}/results", "--format", "markdown", "--no-reported"],
        expect=r"a \\\| b c", exit_code=0, stream="stdout", setup=_pipe_title,
        check=_pipe_check,
    ),
    Case(
        id="board-ties-legend-names-holm", row=14, command="pricebench-leaderboard",
        args=["--results", "{tmp}/results", "--format", "markdown", "--no-reported"],
        expect=r"^- ≈: .*Holm", exit_code=0, stream="stdout", setup=_ties,
        check=lambda tmp, done: _tie_marks(done.stdout),
    ),
    Case(
        id="board-all-folders-bad", row=0, command="pricebench-leaderboard",
        args=["--results", "{tmp}/results", "--format", "markdown"],
        expect=SKIPPED + "metrics.json has no 'error'", exit_code=0,
        setup=_all_bad,
        check=lambda tmp, done: _reported_only(done.stdout),
    ),
    Case(
        id="board-output-under-a-file", row=0, command="pricebench-leaderboard",
        args=["--results", "{tmp}/results", "--format", "csv", "--output", "{tmp}/f/board.csv"],
        expect=r"^pricebench-leaderboard: error: cannot write .*/f/board.csv: ",
        setup=_good_runs_and_a_file,
    ),
    Case(
        id="board-unknown-format", row=0, command="pricebench-leaderboard",
        args=["--results", "{tmp}/results", "--format", "pdf"],
        expect=r"^pricebench-leaderboard: error: argument --format: invalid choice: 'pdf'",
    ),
    Case(
        id="board-bootstrap-not-a-number", row=0, command="pricebench-leaderboard",
        args=["--results", "{tmp}/results", "--bootstrap", "many"],
        expect=r"^pricebench-leaderboard: error: argument --bootstrap: invalid int value",
    ),
    Case(
        id="board-bootstrap-negative", row=0, command="pricebench-leaderboard",
        args=["--results", "{tmp}/results", "--bootstrap", "-5"],
        expect=r"^pricebench-leaderboard: error: --bootstrap takes a number of resamples from 0",
        setup=good_runs,
    ),
    Case(
        id="board-results-is-a-file", row=0, command="pricebench-leaderboard",
        args=["--results", "{tmp}/results"],
        expect=r"^pricebench-leaderboard: error: no results folder .*/results",
        setup=lambda tmp: _write(tmp / "results", "not a folder"),
    ),
    Case(
        id="board-compare-unknown-run", row=0, command="pricebench-leaderboard",
        args=["--results", "{tmp}/results", "--compare", "20260101", "nothing-like-it"],
        expect=r"^pricebench-leaderboard: error: no run named 'nothing-like-it' under ",
        setup=good_runs,
    ),
    Case(
        id="board-metrics-is-a-folder", row=0, command="pricebench-leaderboard",
        args=["--results", "{tmp}/results", "--format", "csv"],
        expect=SKIPPED + "metrics.json", exit_code=0,
        setup=lambda tmp: (good_runs(tmp) / BAD / "metrics.json").mkdir(parents=True),
        check=the_good_rows_printed,
    ),
]  # fmt: skip


def _tie_marks(out: str) -> None:
    rows = [line.split("|") for line in out.splitlines() if line.startswith("| ")]
    marks = {cells[2].strip(): cells[1].strip() for cells in rows if "---" not in cells[1]}
    assert marks["leader"] == "1" and marks["twin"] == "2 ≈" and marks["far"] == "3", out


def _reported_only(out: str) -> None:
    rows = [line for line in out.splitlines() if line.startswith("| ") and "---" not in line]
    assert rows[1:] and all("(reported)" in line for line in rows[1:]), out


def _a_file(tmp: Path) -> None:
    _write(tmp / "f", "a file, not a folder")


def _sweep_board_printed(tmp: Path, done: subprocess.CompletedProcess) -> None:
    assert "1 job(s) done, 1 failed" in done.stdout, done.stdout
    assert "| 1 | constant |" in done.stdout, done.stdout
    (failed,) = [line for line in done.stdout.splitlines() if line.startswith("failed: ")]
    assert "/f/r tracker=none quiet=True: results.dir=" in failed, done.stdout


CASES += [
    Case(  # issue 12 row 1, the sweep side: a job that cannot write its results fails alone
        id="sweep-a-job-whose-results-dir-is-under-a-file", row=1, command="pricebench",
        args=["-m", "predictor=constant", "results.dir={tmp}/r,{tmp}/f/r", "tracker=none",
              "quiet=true"],
        expect=r"^pricebench: error: .*results\.dir", exit_code=1, setup=_a_file,
        check=_sweep_board_printed,
    ),
    Case(
        id="sweep-a-job-with-a-bad-config", row=1, command="pricebench",
        args=["-m", "predictor=constant,replay", "results.dir={tmp}/r", "tracker=none",
              "quiet=true"],
        expect=r"^pricebench: error: the replay predictor needs predictor.path", exit_code=1,
        check=lambda tmp, done: _board_and_failure(done, "predictor=replay"),
    ),
]  # fmt: skip


def _board_and_failure(done: subprocess.CompletedProcess, failed: str) -> None:
    assert "1 job(s) done, 1 failed" in done.stdout and "| 1 | constant |" in done.stdout
    assert f"failed: {failed} " in done.stdout, done.stdout


def _newline_folder(tmp: Path) -> None:
    results_dir = good_runs(tmp)
    path = write_good_run(results_dir, "odd", 0.5, 3, folder="20260103-000000_two\nlines_x")
    _write(path / "metrics.json", "[]")


def _disagreeing_truths(tmp: Path) -> None:
    results_dir = good_runs(tmp)
    path = write_good_run(results_dir, "liar", 0.5, 3)
    lines = (path / "predictions.jsonl").read_text().splitlines()
    first = json.loads(lines[0])
    lines[0] = json.dumps({**first, "truth": first["truth"] + 100})
    _write(path / "predictions.jsonl", "\n".join(lines) + "\n")


def _liar_unmarked(tmp: Path, done: subprocess.CompletedProcess) -> None:
    rows = [line.split("|") for line in done.stdout.splitlines() if line.startswith("| ")]
    ranks = {cells[2].strip(): cells[1].strip() for cells in rows}
    assert ranks["narrow"] == "1" and ranks["liar"] == "2" and ranks["wide"] == "3", done.stdout


CASES += [
    Case(  # a folder whose name holds a line break: the warning stays one line
        id="board-bad-folder-with-a-line-break-in-its-name", row=0,
        command="pricebench-leaderboard",
        args=["--results", "{tmp}/results", "--format", "csv"],
        expect=r"^pricebench-leaderboard: warning: skipped '.*/results/20260103-000000_two"
        r"\\nlines_x': metrics.json holds a JSON list, not an object$",
        exit_code=0, setup=_newline_folder, check=the_good_rows_printed,
    ),
    Case(  # a run that claims the canonical items but disagrees on a true price: no ≈ either way
        id="board-a-run-that-disagrees-on-a-truth", row=14, command="pricebench-leaderboard",
        args=["--results", "{tmp}/results", "--format", "markdown", "--no-reported"],
        expect=r"^pricebench-leaderboard: warning: \S+_liar_\S+ not compared with the leader "
        r"\S+_narrow_\S+: the runs disagree on the true price of 1 shared item",
        exit_code=0, setup=_disagreeing_truths, check=_liar_unmarked,
    ),
]  # fmt: skip
