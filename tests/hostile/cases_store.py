"""Hostile cases: where a run writes (results, cache, W&B folders), file modes, Ctrl-C.

Ctrl-C needs a signal sent mid-run, so its tests are ordinary ones: tests/test_store_interrupt.py.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.hostile.cases import Case
from tests.openai_server import FakeOpenAI

_SERVERS: dict[Path, FakeOpenAI] = {}
_KEY = "sk-" + "test-HOSTILESTOREKEY000000000000"  # fake, built so no scanner flags it
_FIX = "set results.dir to a folder you can write to"


def _a_file(tmp: Path) -> None:
    (tmp / "a-file").write_text("not a folder\n")


def _unwritable(key: str, rest: str = "", fix: str = _FIX) -> str:
    why = r"\S*/a-file is a file, not a folder"
    return rf"^pricebench: error: {key}=\S*{rest} cannot be written: {why}; {fix}$"


def _no_run_stored(tmp: Path, done: subprocess.CompletedProcess) -> None:
    assert done.stdout == "", done.stdout  # nothing ran: no line of the run was printed
    assert list(tmp.rglob("*.json*")) == []  # no run folder, no metrics or predictions


def _serve(tmp: Path) -> None:
    """A local OpenAI-compatible server for the case in ``tmp`` (the check stops it)."""
    _a_file(tmp)
    _SERVERS[tmp] = FakeOpenAI().start()


def _llm_args(*extra: str):
    def args(tmp: Path) -> list[str]:
        return ["predictor=gpt-4o-mini", f"predictor.base_url={_SERVERS[tmp].base_url}",
                "tracker=none", "quiet=true", f"cache.dir={tmp}/cache", *extra]  # fmt: skip

    return args


def _no_request(tmp: Path, done: subprocess.CompletedProcess) -> None:
    server = _SERVERS.pop(tmp)
    server.stop()
    assert server.requests == [], [r["path"] for r in server.requests]
    assert done.stdout == ""


def _files_follow_the_umask(tmp: Path, done: subprocess.CompletedProcess) -> None:
    mask = os.umask(0o022)  # read the umask the command inherited, and put it back
    os.umask(mask)
    (run,) = (tmp / "r").iterdir()
    modes = {p.name: p.stat().st_mode & 0o777 for p in run.iterdir()}
    assert set(modes) == {"config.yaml", "predictions.jsonl", "chart.png", "metrics.json"}
    assert set(modes.values()) == {0o666 & ~mask}, (oct(mask), modes)
    assert run.stat().st_mode & 0o777 == 0o777 & ~mask


def _sweep_summary_still_printed(tmp: Path, done: subprocess.CompletedProcess) -> None:
    lines = done.stdout.splitlines()
    assert any(line.endswith(": 0 job(s) done, 1 failed") for line in lines), done.stdout
    assert any(line.startswith("failed: predictor=constant ") for line in lines), done.stdout


CASES: list[Case] = [
    Case(
        id="data-folder-missing",
        row=0,
        command="pricebench",
        args=["tracker=none"],
        env={"PRICEBENCH_DATA": "{tmp}/nowhere"},
        expect=r"^pricebench: error: data path .*/nowhere does not exist",
    ),
    # row 1: fail before paying
    Case(
        id="results-dir-under-a-file",
        row=1,
        command="pricebench",
        args=["predictor=constant", "tracker=none", "results.dir={tmp}/a-file/r"],
        setup=_a_file,
        expect=_unwritable("results.dir", "/a-file/r"),
        check=_no_run_stored,
    ),
    Case(
        id="results-dir-is-a-file",
        row=1,
        command="pricebench",
        args=["predictor=constant", "tracker=none", "results.dir={tmp}/a-file"],
        setup=_a_file,
        expect=_unwritable("results.dir", "/a-file"),
        check=_no_run_stored,
    ),
    Case(
        id="results-dir-is-dev-null",
        row=0,
        command="pricebench",
        args=["predictor=constant", "tracker=none", "results.dir=/dev/null"],
        expect=r"^pricebench: error: results.dir=/dev/null cannot be written: /dev/null is "
        r"something else, not a folder; set results.dir to",
    ),
    Case(
        id="llm-results-dir-under-a-file-sends-no-request",
        row=1,
        command="pricebench",
        args=_llm_args("results.dir={tmp}/a-file/r"),
        env={"OPENAI_API_KEY": _KEY},
        setup=_serve,
        expect=_unwritable("results.dir", "/a-file/r"),
        check=_no_request,
    ),
    Case(
        id="llm-cache-dir-under-a-file-sends-no-request",
        row=1,
        command="pricebench",
        args=_llm_args("cache.dir={tmp}/a-file/cache", "results.dir={tmp}/r"),
        env={"OPENAI_API_KEY": _KEY},
        setup=_serve,
        expect=_unwritable(
            "cache.dir",
            "/a-file/cache",
            r"set cache.dir to a folder you can write to, or "
            r"cache.enabled=false",
        ),  # fmt: skip
        check=_no_request,
    ),
    Case(
        id="multirun-results-dir-under-a-file",
        row=1,
        command="pricebench",
        args=["-m", "predictor=constant", "tracker=none", "results.dir={tmp}/a-file/r"],
        setup=_a_file,
        exit_code=1,  # the sweep's summary names the failed job and exits 1
        expect=_unwritable("results.dir", "/a-file/r"),
        check=_sweep_summary_still_printed,
    ),
    Case(
        id="reproduce-results-under-a-file",
        row=0,
        command="pricebench-reproduce",
        args=["--results", "{tmp}/a-file/r"],
        setup=_a_file,
        expect=r"^pricebench-reproduce: error: random: results.dir=\S*/a-file/r cannot be "
        r"written: \S*/a-file is a file, not a folder",
    ),
    Case(
        id="hydra-run-dir-under-a-file",
        row=0,
        command="pricebench",
        args=["predictor=constant", "tracker=none", "hydra.run.dir={tmp}/a-file/out"],
        setup=_a_file,
        expect=r"^pricebench: error: cannot write \S*/a-file/out: \S*/a-file is a file, not a "
        r"folder \(Hydra's output folder\); set hydra.run.dir to a folder you can write to$",
    ),
    Case(
        id="hydra-sweep-dir-under-a-file",
        row=0,
        command="pricebench",
        args=["-m", "predictor=constant", "tracker=none", "hydra.sweep.dir={tmp}/a-file/s"],
        setup=_a_file,
        expect=r"^pricebench: error: cannot write \S*/a-file/s: .*; set hydra.sweep.dir to",
    ),
    # row 5: files follow the umask (the one the test process runs under)
    Case(
        id="run-files-follow-the-umask",
        row=5,
        command="pricebench",
        args=["predictor=constant", "tracker=none", "quiet=true", "results.dir={tmp}/r"],
        exit_code=0,
        stream="stdout",
        expect=r"^results: \S*/r/",
        check=_files_follow_the_umask,
    ),
    # row 10: W&B's folder, checked before the run instead of a worker traceback or /tmp/wandb
    Case(
        id="tracker-dir-under-a-file",
        row=10,
        command="pricebench",
        args=[
            "predictor=constant",
            "tracker=wandb",
            "tracker.mode=offline",
            "tracker.dir={tmp}/a-file/w",
            "results.dir={tmp}/r",
        ],  # fmt: skip
        setup=_a_file,
        expect=_unwritable(
            "tracker.dir", "/a-file/w", "set tracker.dir to a folder you can write to"
        ),  # fmt: skip
        check=_no_run_stored,
    ),
    Case(
        id="wandb-dir-env-is-a-file",
        row=10,
        command="pricebench",
        args=[
            "predictor=constant",
            "tracker=wandb",
            "tracker.mode=offline",
            "results.dir={tmp}/r",
        ],  # fmt: skip
        env={"WANDB_DIR": "{tmp}/a-file"},
        setup=_a_file,
        expect=_unwritable(
            "WANDB_DIR", "/a-file", "set WANDB_DIR or tracker.dir to a folder you can write to"
        ),  # fmt: skip
        check=_no_run_stored,
    ),
    Case(
        id="wandb-disabled-ignores-its-folder",
        row=0,
        command="pricebench",
        args=[
            "predictor=constant",
            "tracker=wandb",
            "tracker.mode=disabled",
            "quiet=true",
            "chart=false",
            "results.dir={tmp}/r",
        ],  # fmt: skip
        env={"WANDB_DIR": "{tmp}/a-file"},
        setup=_a_file,
        exit_code=0,
        stream="stdout",
        expect=r"^constant Error=\$",
    ),
    Case(
        id="results-dir-empty",
        row=0,
        command="pricebench",
        args=["predictor=constant", "tracker=none", "results.dir="],
        expect=r"^pricebench: error: results\.dir is empty; set it to a folder",
        check=lambda tmp, done: _no_run_folder_in(tmp),
    ),
]


def _no_run_folder_in(tmp: Path) -> None:
    assert not [p for p in tmp.iterdir() if p.is_dir() and "_constant_" in p.name]
