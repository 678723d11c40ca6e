"""The results store writes atomically: a failed write never leaves a half-written file."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness import results


def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path: Path) -> None:
    target = tmp_path / "metrics.json"
    results.write_json(target, {"error": 1.0})

    def explode(handle) -> None:
        handle.write('{"error": 2.')
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        results.atomic_write(target, explode)
    assert results.read_metrics(tmp_path) == {"error": 1.0}
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]  # no temp file left


def test_run_dirs_are_unique_and_only_finished_runs_count(tmp_path: Path) -> None:
    first = results.new_run_dir(tmp_path, "same name")
    second = results.new_run_dir(tmp_path, "same name")
    assert first != second and first.name.split("_")[1] == "same-name"
    results.write_json(second / results.METRICS_FILE, {"error": 3})
    assert results.finished_runs(tmp_path) == [second]


def test_git_state_names_a_commit_or_nothing(tmp_path: Path) -> None:
    assert results.git_state(tmp_path) == {"commit": None, "dirty": None}
    here = results.git_state()
    assert here["commit"] is None or len(here["commit"]) == 40
