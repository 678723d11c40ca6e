"""Leaderboards from the results store, and reproducing the course's published table."""

from __future__ import annotations

import csv
import json
import statistics
from pathlib import Path

import pytest

from harness import leaderboard, leaderboard_cli, reproduce
from harness.data import CANONICAL_FINGERPRINT
from harness.published import PUBLISHED
from tests.conftest import DATA_DIR, REFERENCE_DIR

pytestmark = pytest.mark.slow
SCRIPT = "<script>alert(1)</script>"


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A results folder holding the reproduced course rows (random, constant and 3 replays)."""
    root = tmp_path_factory.mktemp("store")
    reproduce.main(["--recordings", str(REFERENCE_DIR), "--results", str(root / "results"),
                    "--data", str(DATA_DIR)])  # fmt: skip
    return root / "results"


def test_the_published_copy_equals_the_shared_table() -> None:
    with (DATA_DIR / "reported.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert [p.predictor for p in PUBLISHED] == [r["predictor"] for r in rows]
    for p, r in zip(PUBLISHED, rows, strict=True):
        assert (p.error, p.rmsle, p.hits_pct) == (
            float(r["error"]),
            float(r["rmsle"]),
            float(r["hits_pct"]),
        )
        assert p.description == r["description"]
        assert (p.recording or "") == r["recorded_guesses"].removeprefix("reference/")


def test_reproduce_matches_every_shared_recording(store: Path, capsys) -> None:
    reproduce.main(["--recordings", str(REFERENCE_DIR), "--results", str(store.parent / "again"),
                    "--data", str(DATA_DIR)])  # fmt: skip
    out = capsys.readouterr().out
    assert out.count("  match") == 5 and "MISMATCH" not in out
    assert "5 of 12 rows reproduced, 0 mismatched" in out
    assert "gpt-4o-2024-08-06" in out and "not reproducible here" in out


def test_reproduce_names_a_row_whose_recording_was_altered(tmp_path: Path, capsys) -> None:
    recordings = tmp_path / "recordings"
    recordings.mkdir()
    for path in REFERENCE_DIR.glob("*.csv"):
        (recordings / path.name).write_text(path.read_text())
    lines = (recordings / "human.csv").read_text().splitlines()
    index, guess = lines[10].split(",")
    lines[10] = f"{index},{float(guess) + 500:.2f}"  # one guess off by $500
    (recordings / "human.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(SystemExit) as exit_info:
        reproduce.main(["--recordings", str(recordings), "--results", str(tmp_path / "r"),
                        "--data", str(DATA_DIR)])  # fmt: skip
    assert exit_info.value.code == 1
    captured = capsys.readouterr()
    assert captured.err.strip().endswith("mismatch in human")
    assert captured.out.count("MISMATCH") == 1 and "4 of" not in captured.out


def test_the_leaderboard_ranks_runs_by_error_beside_the_reported_rows(store: Path) -> None:
    board = leaderboard.build(leaderboard.load_runs(store), n_boot=200)
    runs = [r for r in board.ranked if r.kind == "run"]
    assert [r.title for r in runs] == [
        "gpt-4o-mini", "gpt-4o-mini-fine-tuned", "human", "constant", "random",
    ]  # fmt: skip
    assert [r.rank for r in runs] == [1, 2, 3, 4, 5]
    for row in runs:
        for name in ("error", "rmsle", "hit_rate"):
            interval = row.intervals[name]
            assert interval.low < row.values[name] < interval.high
        assert row.source is not None and row.source.path.name == row.run
    assert len([r for r in board.ranked if r.kind == "reported"]) == 12
    errors = [r.values["error"] for r in board.ranked]
    assert errors == sorted(errors)
    # gpt-4o-mini leads; every other run differs from it significantly (paired tests at 5%)
    assert runs[0].tie_with_leader == "leader"
    assert {r.tie_with_leader for r in runs[1:]} == {"no"}


def test_a_different_item_set_is_kept_out_of_the_ranking(store: Path, tmp_path: Path) -> None:
    results_dir = tmp_path / "results"
    for run in store.iterdir():
        (results_dir / run.name).mkdir(parents=True)
        for file in run.iterdir():
            (results_dir / run.name / file.name).write_bytes(file.read_bytes())
    reproduce.run_row(
        ["predictor=random", "data.size=100"], "random-100", str(results_dir), str(DATA_DIR)
    )
    board = leaderboard.build(leaderboard.load_runs(results_dir), n_boot=100)
    assert "random-100" not in [r.title for r in board.ranked]
    ((fingerprint, rows),) = board.others.items()
    assert fingerprint != CANONICAL_FINGERPRINT and [r.title for r in rows] == ["random-100"]
    assert rows[0].rank is None and rows[0].n == 100
    assert any("never ranked with the canonical 250 items" in note for note in board.notes)
    text = leaderboard_markdown(results_dir)
    assert "Other item set" in text and "random-100" in text.split("Other item set")[1]


def leaderboard_markdown(results_dir: Path) -> str:
    from harness import leaderboard_format

    return leaderboard_format.markdown(
        leaderboard.build(leaderboard.load_runs(results_dir), n_boot=100)
    )


def test_cli_formats(store: Path, tmp_path: Path, capsys) -> None:
    leaderboard_cli.main(["--results", str(store), "--format", "markdown", "--bootstrap", "100"])
    markdown = capsys.readouterr().out
    assert markdown.startswith("| # | predictor | model | error |")
    assert "| 1 | gpt-4o-mini |  | $79.58 [" in markdown and "gpt-4o-mini (reported)" in markdown
    out = tmp_path / "board.csv"
    leaderboard_cli.main(["--results", str(store), "--format", "csv", "--output", str(out)])
    rows = list(csv.DictReader(out.open()))
    assert {"error", "error_low", "error_high", "rmsle", "hit_rate", "n", "run"} <= set(rows[0])
    assert [float(r["error"]) for r in rows] == sorted(float(r["error"]) for r in rows)


def test_html_is_one_static_file_with_everything_escaped(tmp_path: Path) -> None:
    rows = [json.loads(line) for line in (DATA_DIR / "test.jsonl").read_text().splitlines()[:20]]
    rows[0]["title"] = SCRIPT
    data = tmp_path / "data"
    data.mkdir()
    (data / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    results_dir = tmp_path / "results"
    reproduce.run_row(["predictor=random", "data.size=20"], SCRIPT, str(results_dir), str(data))
    out = tmp_path / "board.html"
    leaderboard_cli.main(["--results", str(results_dir), "--format", "html", "--output", str(out)])
    page = out.read_text()
    assert SCRIPT not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "data:image/png;base64," in page and "price band" in page
    assert "<th>category</th>" in page and "<td>Automotive</td>" in page


def test_aggregate_mean_over_seeds(tmp_path: Path) -> None:
    results_dir = tmp_path / "results"
    for seed in (1, 2, 3):
        reproduce.run_row(
            ["predictor=random", f"predictor.seed={seed}"],
            "random",
            str(results_dir),
            str(DATA_DIR),
        )
    runs = leaderboard.load_runs(results_dir)
    board = leaderboard.build(runs, aggregate="mean", reported=False)
    (row,) = board.ranked
    errors = [r.metrics["error"] for r in runs]
    assert row.runs == 3 and row.values["error"] == pytest.approx(sum(errors) / 3)
    assert row.sd["error"] == pytest.approx(statistics.stdev(errors))
    latest = leaderboard.build(runs, aggregate="latest", reported=False, n_boot=100)
    assert len(latest.ranked) == 1 and latest.ranked[0].run == runs[-1].path.name


def test_compare_prints_the_paired_comparison(store: Path, capsys) -> None:
    names = {r.metrics["title"]: r.path.name for r in leaderboard.load_runs(store)}
    leaderboard_cli.main(
        ["--results", str(store), "--compare", names["gpt-4o-mini"], names["random"]]
    )
    out = capsys.readouterr().out
    assert "shared items: 250" in out and "Wilcoxon" in out and "McNemar" in out
    assert "verdict: different at 5%" in out
    leaderboard_cli.main(["--results", str(store), "--compare", names["human"], names["human"]])
    assert "verdict: no difference at 5%" in capsys.readouterr().out


def test_a_missing_results_folder_is_one_line(tmp_path: Path, capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        leaderboard_cli.main(["--results", str(tmp_path / "none")])
    assert exit_info.value.code == 2
    assert "no results folder" in capsys.readouterr().err


def test_a_run_the_paired_tests_cannot_tell_from_the_leader_is_marked(
    store: Path, tmp_path
) -> None:
    results_dir = tmp_path / "results"
    for title in ("gpt-4o-mini", "gpt-4o-mini again"):
        path = REFERENCE_DIR / "gpt-4o-mini.csv"
        overrides = ["predictor=replay", f"predictor.path={path}"]
        reproduce.run_row(overrides, title, str(results_dir), str(DATA_DIR))
    reproduce.run_row(["predictor=random"], "random", str(results_dir), str(DATA_DIR))
    board = leaderboard.build(leaderboard.load_runs(results_dir), reported=False, n_boot=200)
    marks = {row.title: row.tie_with_leader for row in board.ranked}
    assert sorted(marks.values()) == ["leader", "no", "yes"]
    assert marks["random"] == "no"
    from harness import leaderboard_format

    lines = leaderboard_format.markdown(board).splitlines()
    (tied,) = [line for line in lines if line.startswith("| 2 ≈ |")]
    assert "gpt-4o-mini" in tied
