"""Fail before paying (issue 12, row 1 and row 10): the folders a run writes to (results, the
response cache, W&B's folder when tracking) are checked before anything is built or asked, each
failure one line naming the key; the check leaves nothing behind."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from harness.errors import PricebenchError
from harness.preflight import check_writable
from harness.run import compose, run_config
from tests.conftest import run_cli
from tests.llm_helpers import run_llm
from tests.openai_server import FakeOpenAI


@pytest.fixture(autouse=True)
def _no_wandb_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("WANDB_MODE", "WANDB_API_KEY", "WANDB_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("WANDB_DIR", str(tmp_path / "wandb-home"))


def _cfg(tmp_path: Path, *overrides: str):
    return compose(["tracker=none", f"results.dir={tmp_path / 'r'}", *overrides])


def _a_file(tmp_path: Path) -> Path:
    path = tmp_path / "a-file"
    path.write_text("not a folder\n")
    return path


def _tree(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def test_writable_folders_pass_and_nothing_is_left_behind(tmp_path: Path) -> None:
    check_writable(_cfg(tmp_path, "predictor=gpt-4o-mini", f"cache.dir={tmp_path}/c/d"))
    assert _tree(tmp_path) == []  # a missing folder: its nearest parent is what must be writable
    (tmp_path / "r").mkdir()
    (tmp_path / "c").mkdir()
    check_writable(_cfg(tmp_path, "predictor=gpt-4o-mini", f"cache.dir={tmp_path}/c"))
    assert _tree(tmp_path) == ["c", "r"]  # no probe file left in them


def test_results_dir_under_a_file_is_one_line_naming_the_key(tmp_path: Path) -> None:
    blocker = _a_file(tmp_path)
    with pytest.raises(PricebenchError) as caught:
        check_writable(_cfg(tmp_path, f"results.dir={blocker}/r"))
    message = str(caught.value)
    assert message == (
        f"results.dir={blocker}/r cannot be written: {blocker} is a file, not a folder; "
        "set results.dir to a folder you can write to"
    )


def test_a_link_to_nothing_is_named(tmp_path: Path) -> None:
    (tmp_path / "gone").symlink_to(tmp_path / "nowhere")
    with pytest.raises(PricebenchError, match=rf"cannot be written: {tmp_path}/gone is a link to"):
        check_writable(_cfg(tmp_path, f"results.dir={tmp_path}/gone/r"))


def test_results_dir_that_is_a_file_is_one_line(tmp_path: Path) -> None:
    blocker = _a_file(tmp_path)
    with pytest.raises(PricebenchError, match=rf"^results.dir={blocker} cannot be written: "
                       rf"{blocker} is a file, not a folder; set results.dir to"):  # fmt: skip
        check_writable(_cfg(tmp_path, f"results.dir={blocker}"))


def test_a_results_dir_given_to_run_config_is_the_one_checked(tmp_path: Path) -> None:
    # pricebench-reproduce passes its --results folder as a settings change, not in the config
    blocker = _a_file(tmp_path)
    with pytest.raises(PricebenchError, match=rf"^results.dir={blocker}/x cannot be written"):
        run_config(_cfg(tmp_path), results_dir=blocker / "x", out=io.StringIO())


def test_the_llm_cache_folder_is_checked_unless_the_cache_is_off(tmp_path: Path) -> None:
    blocker = _a_file(tmp_path)
    llm = ("predictor=gpt-4o-mini", f"cache.dir={blocker}/cache")
    with pytest.raises(PricebenchError, match=rf"^cache.dir={blocker}/cache cannot be written: "
                       rf"{blocker} is a file, not a folder; set cache.dir to .* or "
                       r"cache.enabled=false$"):  # fmt: skip
        check_writable(_cfg(tmp_path, *llm))
    check_writable(_cfg(tmp_path, *llm, "cache.enabled=false"))
    check_writable(_cfg(tmp_path, "predictor=constant", f"cache.dir={blocker}/cache"))  # no cache


def test_a_cache_folder_set_on_the_predictor_is_named_as_such(tmp_path: Path) -> None:
    blocker = _a_file(tmp_path)
    with pytest.raises(PricebenchError, match=r"^predictor.cache_dir=.* cannot be written"):
        check_writable(_cfg(tmp_path, "predictor=gpt-4o-mini", f"predictor.cache_dir={blocker}"))


def test_the_cache_folder_expands_the_home_folder(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("HOME", str(_a_file(tmp_path)))
    with pytest.raises(PricebenchError, match=r"^cache.dir=~/x cannot be written: .*a-file is a"):
        check_writable(_cfg(tmp_path, "predictor=gpt-4o-mini", "cache.dir='~/x'"))


def test_wandb_folder_is_checked_when_tracking(tmp_path: Path, monkeypatch) -> None:
    blocker = _a_file(tmp_path)
    wandb = ("tracker=wandb", "tracker.mode=offline")
    with pytest.raises(PricebenchError, match=rf"^tracker.dir={blocker}/w cannot be written: "
                       rf"{blocker} is a file, not a folder; set tracker.dir to"):  # fmt: skip
        check_writable(_cfg(tmp_path, *wandb, f"tracker.dir={blocker}/w"))
    monkeypatch.setenv("WANDB_DIR", str(blocker))
    check_writable(_cfg(tmp_path, "tracker=none"))  # not tracking: W&B's folder is no matter
    check_writable(_cfg(tmp_path, "tracker=wandb", "tracker.mode=disabled",
                        f"tracker.dir={blocker}/w"))  # fmt: skip


def test_wandb_dir_from_the_environment_is_checked_not_replaced(
    tmp_path: Path, monkeypatch
) -> None:
    # W&B itself would fall back to /tmp/wandb without a word (row 10)
    blocker = _a_file(tmp_path)
    monkeypatch.setenv("WANDB_DIR", str(blocker))
    expected = rf"^WANDB_DIR={blocker} cannot be written: {blocker} is a file, not a folder; "
    with pytest.raises(PricebenchError, match=expected + "set WANDB_DIR or tracker.dir to"):
        check_writable(_cfg(tmp_path, "tracker=wandb", "tracker.mode=offline"))


def test_without_a_wandb_folder_the_current_folder_is_checked(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("WANDB_DIR")
    monkeypatch.chdir(tmp_path)
    check_writable(_cfg(tmp_path, "tracker=wandb", "tracker.mode=offline"))
    assert _tree(tmp_path) == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a read-only folder")
def test_a_read_only_results_folder_is_one_line(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir(mode=0o555)
    with pytest.raises(PricebenchError, match=r"cannot be written: Permission denied"):
        check_writable(_cfg(tmp_path, f"results.dir={folder}"))


@pytest.mark.slow
def test_an_llm_run_that_cannot_store_its_results_sends_no_request(tmp_path: Path) -> None:
    blocker = _a_file(tmp_path)
    with FakeOpenAI() as server:
        proc = run_llm(tmp_path, server.base_url, f"results.dir={blocker}/r")
        assert server.requests == []
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    assert proc.stderr.splitlines() == [
        f"pricebench: error: results.dir={blocker}/r cannot be written: {blocker} is a file, not "
        "a folder; set results.dir to a folder you can write to"
    ]
    assert not (tmp_path / "cache").exists()  # nothing was opened either


@pytest.mark.slow
def test_an_llm_run_whose_cache_cannot_be_written_sends_no_request(tmp_path: Path) -> None:
    blocker = _a_file(tmp_path)
    with FakeOpenAI() as server:
        proc = run_llm(tmp_path, server.base_url, f"cache.dir={blocker}/c")
        assert server.requests == []
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert len(proc.stderr.splitlines()) == 1
    assert proc.stderr.startswith(f"pricebench: error: cache.dir={blocker}/c cannot be written")


@pytest.mark.slow
def test_a_multirun_that_cannot_store_is_one_line_per_job_and_the_sweep_summary(
    tmp_path: Path,
) -> None:
    blocker = _a_file(tmp_path)
    proc = run_cli("-m", "predictor=constant,random", "quiet=true",
                   f"results.dir={blocker}/r", cwd=tmp_path)  # fmt: skip
    assert "Traceback" not in proc.stdout + proc.stderr, proc.stderr
    assert proc.returncode == 1, proc.stderr
    expected = (
        f"pricebench: error: results.dir={blocker}/r cannot be written: {blocker} is a file, "
        "not a folder; set results.dir to a folder you can write to"
    )
    assert proc.stderr.splitlines() == [expected, expected]
    summary = [line for line in proc.stdout.splitlines() if line.startswith("sweep ")]
    assert len(summary) == 1 and summary[0].endswith(": 0 job(s) done, 2 failed"), proc.stdout
    failed = [line for line in proc.stdout.splitlines() if line.startswith("failed: ")]
    assert [line.split()[1] for line in failed] == [
        "predictor=constant", "predictor=random"
    ]  # fmt: skip


@pytest.mark.slow
def test_a_multirun_with_one_unwritable_job_still_prints_the_leaderboard(tmp_path: Path) -> None:
    blocker = _a_file(tmp_path)
    proc = run_cli("-m", "predictor=constant", "quiet=true", "chart=false",
                   f"results.dir={tmp_path}/ok,{blocker}/r", cwd=tmp_path)  # fmt: skip
    assert "Traceback" not in proc.stdout + proc.stderr, proc.stderr
    assert proc.returncode == 1
    assert len(proc.stderr.splitlines()) == 1 and "cannot be written" in proc.stderr
    assert any(line.endswith(": 1 job(s) done, 1 failed") for line in proc.stdout.splitlines())
    assert any(line.startswith("| ") and "constant" in line for line in proc.stdout.splitlines())
