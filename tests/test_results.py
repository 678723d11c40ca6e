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


@pytest.fixture
def umask():
    """Set the process's umask for one test (``umask(0o077)``), restoring it afterwards."""
    import os

    saved = os.umask(0o022)
    os.umask(saved)
    yield lambda mask: os.umask(mask)
    os.umask(saved)


@pytest.mark.parametrize(("mask", "file_mode", "dir_mode"), [
    (0o022, 0o644, 0o755), (0o077, 0o600, 0o700), (0o002, 0o664, 0o775),
], ids=["022", "077", "002"])  # fmt: skip
def test_written_files_follow_the_umask(
    tmp_path: Path, umask, mask: int, file_mode: int, dir_mode: int
) -> None:
    umask(mask)
    run_dir, _ = results.write_run(
        tmp_path / "r", "t", config={"a": 1}, records=[{"i": 0}], metrics=lambda: {"error": 1.0},
        chart=lambda path: results.atomic_write(path, lambda f: f.write(b"png"), binary=True),
    )  # fmt: skip
    modes = {p.name: p.stat().st_mode & 0o777 for p in run_dir.iterdir()}
    assert modes == dict.fromkeys(
        [results.CONFIG_FILE, results.PREDICTIONS_FILE, results.CHART_FILE, results.METRICS_FILE],
        file_mode,
    )
    assert run_dir.stat().st_mode & 0o777 == dir_mode
    results.write_json(run_dir / results.METRICS_FILE, {"error": 2.0})  # replacing one too
    assert (run_dir / results.METRICS_FILE).stat().st_mode & 0o777 == file_mode


def test_a_rerun_under_another_umask_gets_its_mode_in_a_subprocess(tmp_path: Path) -> None:
    # the umask a user's shell sets, in a fresh process (the mode is not remembered per process)
    import sys

    code = (
        "import os, sys; from harness import results; os.umask(int(sys.argv[2], 8)); "
        "results.write_text(sys.argv[1], 'x')"
    )
    target = tmp_path / "shared.txt"
    for mask, mode in (("022", 0o644), ("077", 0o600), ("022", 0o644)):
        subprocess.run([sys.executable, "-c", code, str(target), mask], check=True)
        assert target.stat().st_mode & 0o777 == mode, mask
    assert [p.name for p in tmp_path.iterdir()] == ["shared.txt"]
