"""The shape of a hostile-input case, shared by every ``cases_*.py`` table in this folder.

A case runs one of pricebench's commands in a subprocess, as a user would, in a fresh folder
that ``setup`` prepared, and states how it must end: the exit code, and a pattern that one line
of stderr (or stdout, for a warning printed beside good output) must match. The runner in
``test_hostile.py`` adds what holds for every case: no Python traceback anywhere, and when the
exit code is not 0, stderr is that one line and nothing else.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tests.forked import run_module

ROOT = Path(__file__).resolve().parents[2]
DATA_DIR = ROOT.parent / "shared" / "data" / "pricer"

# The commands a case can run: the console scripts, by module, so the venv need not be on PATH.
COMMANDS = {
    "pricebench": "harness.cli",
    "pricebench-leaderboard": "harness.leaderboard_cli",
    "pricebench-reproduce": "harness.reproduce",
    "pricebench-finetune": "finetune.cli",
}


@dataclass(frozen=True)
class Case:
    """One hostile try.

    ``row``: the row of issue 12's table it answers (0 for a case the table does not list).
    ``args``: the command line after the command, given the case's folder (``{tmp}`` in a plain
    string is replaced by it). ``setup`` prepares the folder; ``check`` makes the case's own
    assertions afterwards (say, that the server saw no request, or that the good rows printed).
    ``stream``: where the expected line is (``stderr``; ``stdout`` for warnings beside output).
    ``fresh``: run in a new interpreter (``python -m``) rather than a process forked from one
    that has already imported pricebench (the default, for speed: the same code runs, in its own
    process, without an interpreter's start-up; see :func:`run_case`).
    """

    id: str
    row: int
    command: str
    args: Sequence[str] | Callable[[Path], Sequence[str]]
    expect: str
    exit_code: int = 2
    setup: Callable[[Path], None] | None = None
    check: Callable[[Path, subprocess.CompletedProcess], None] | None = None
    env: dict[str, str] = field(default_factory=dict)
    stream: str = "stderr"
    timeout: float = 120.0
    fresh: bool = False

    def argv(self, tmp: Path) -> list[str]:
        args = self.args(tmp) if callable(self.args) else self.args
        return [str(a).replace("{tmp}", str(tmp)) for a in args]


def run_case(case: Case, tmp: Path) -> subprocess.CompletedProcess:
    """Run ``case`` in ``tmp``: data from the shared folder, no colour, W&B offline under tmp.

    The command runs in its own process with its own environment, working folder, argv and
    standard streams, as ``python -m <module>`` would run it. Unless the case asks for a fresh
    interpreter, that process is forked from a server process that imported pricebench once
    (:mod:`multiprocessing`'s forkserver), which saves an interpreter start-up per case.
    """
    if case.setup is not None:
        case.setup(tmp)
    env = {**os.environ, "PRICEBENCH_DATA": str(DATA_DIR), "NO_COLOR": "1"}
    for name in ("WANDB_MODE", "WANDB_API_KEY", "WANDB_BASE_URL", "OPENAI_BASE_URL"):
        env.pop(name, None)
    env.update({"WANDB_DIR": str(tmp), "HOME": str(tmp), **case.env})
    env = {k: v.replace("{tmp}", str(tmp)) for k, v in env.items()}
    module, argv = COMMANDS[case.command], case.argv(tmp)
    if case.fresh:
        command = [sys.executable, "-m", module, *argv]
        return subprocess.run(
            command, cwd=tmp, env=env, capture_output=True, text=True, timeout=case.timeout
        )
    return run_module(module, argv, tmp, env, case.timeout)
