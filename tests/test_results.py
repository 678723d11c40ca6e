"""The results store writes atomically: a failed write never leaves a half-written file."""

from __future__ import annotations

import re
import subprocess
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


def _git(cwd: Path, *args: str) -> str:
    command = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=True).stdout


def test_git_state_names_the_commit_and_whether_it_is_dirty(tmp_path: Path) -> None:
    assert results.git_state(tmp_path) == {"commit": None, "dirty": None}  # not a repository
    _git(tmp_path, "init", "-q")
    (tmp_path / "a.txt").write_text("one\n")
    _git(tmp_path, "add", "a.txt")
    _git(tmp_path, "commit", "-q", "-m", "first")
    head = _git(tmp_path, "rev-parse", "HEAD").strip()
    assert re.fullmatch(r"[0-9a-f]{40}", head)
    assert results.git_state(tmp_path) == {"commit": head, "dirty": False}
    (tmp_path / "a.txt").write_text("two\n")
    assert results.git_state(tmp_path) == {"commit": head, "dirty": True}


def test_git_state_of_pricebench_itself_is_its_commit() -> None:
    root = Path(results.__file__).resolve().parents[1]
    here = results.git_state()
    assert here["commit"] == _git(root, "rev-parse", "HEAD").strip()
    assert isinstance(here["dirty"], bool)
