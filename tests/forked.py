"""Run pricebench's commands the way ``python -m <module>`` would, but quicker.

Each command runs in its own process, with its own environment, working folder, argv and
standard streams; the process is forked from a server process that imported pricebench once
(:mod:`multiprocessing`'s forkserver), so a test does not pay an interpreter's start-up and
pricebench's imports (about a second on the 2-core machine) for each command it runs. Tests that
need a fresh interpreter (what is imported, signals to a process they start, an installed wheel)
start one with :mod:`subprocess` themselves.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import subprocess
import sys
import tempfile
from multiprocessing import forkserver
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# What the forkserver imports once, before it forks a process per case.
_PRELOAD = [
    *("harness.cli", "harness.leaderboard_cli", "harness.reproduce", "finetune.cli"),
    *("harness.evaluate", "harness.report", "harness.data", "harness.stats", "harness.leaderboard"),
    *("predictors.baselines", "predictors.replay", "predictors.llm", "hydra.utils", "scipy.stats"),
    # what the commands import only when they run
    *("harness.config_check", "harness.preflight", "harness.sweep", "harness.tracking"),
    *("harness.compare", "harness.cost_chart", "finetune.jobs", "finetune.data", "openai", "tqdm"),
    *("sklearn.linear_model", "sklearn.feature_extraction.text", "sklearn.ensemble"),
    *("sklearn.decomposition", "gensim.models"),
    "tests.forked_warm",  # last: fills the caches a first command fills
]
_CONTEXT: multiprocessing.context.ForkServerContext | None = None


def _context() -> multiprocessing.context.ForkServerContext:
    global _CONTEXT
    if _CONTEXT is None:
        _CONTEXT = multiprocessing.get_context("forkserver")
        _CONTEXT.set_forkserver_preload(["tests.forked", *_PRELOAD])
        # The server imports its preload list from the folder it starts in (Python 3.11 passes it
        # the caller's sys.path but does not apply it), and skips what it cannot import silently:
        # started from anywhere but the project's root, it would import nothing of tests/.
        with contextlib.chdir(ROOT):
            forkserver.ensure_running()
    return _CONTEXT


def run_module(
    module: str, argv: list[str], cwd: Path, env: dict[str, str], timeout: float = 300.0
) -> subprocess.CompletedProcess:
    """``python -m module *argv`` in ``cwd`` with ``env``, its output captured as text, in a
    process forked from a server that has imported pricebench already."""
    started = start_module(module, argv, cwd, env)
    stdout, stderr = started.communicate(timeout)
    return subprocess.CompletedProcess(started.args, started.returncode or 0, stdout, stderr)


class Started:
    """A command started by :func:`start_module`, with the part of :class:`subprocess.Popen`
    the tests use: ``poll``, ``communicate`` (its output as text), ``kill``, ``returncode``."""

    def __init__(self, module: str, argv: list[str], cwd: Path, env: dict[str, str]) -> None:
        self.args = [module, *argv]
        self.returncode: int | None = None
        self._streams = tempfile.TemporaryDirectory(prefix="forked-")
        self._out = Path(self._streams.name) / "stdout"
        self._err = Path(self._streams.name) / "stderr"
        self._process = _context().Process(
            target=_main, args=(module, argv, cwd, env, self._out, self._err)
        )
        self._process.start()

    def poll(self) -> int | None:
        if self.returncode is None and not self._process.is_alive():
            self._process.join()
            self.returncode = self._process.exitcode or 0
        return self.returncode

    def kill(self) -> None:
        if self._process.is_alive():
            self._process.kill()

    def communicate(self, timeout: float | None = None) -> tuple[str, str]:
        """Wait for the command (killing it after ``timeout`` seconds, as it raises
        :class:`subprocess.TimeoutExpired`), then give its stdout and stderr."""
        self._process.join(timeout)
        if self._process.is_alive():
            self.kill()
            self._process.join()
            raise subprocess.TimeoutExpired(self.args, timeout or 0)
        self.poll()
        read = [p.read_text(errors="replace") if p.exists() else "" for p in (self._out, self._err)]
        self._streams.cleanup()
        return read[0], read[1]


def start_module(module: str, argv: list[str], cwd: Path, env: dict[str, str]) -> Started:
    """:func:`run_module` without waiting: ``communicate()`` waits and gives the output."""
    return Started(module, argv, cwd, env)


def _main(
    module: str, argv: list[str], cwd: Path, env: dict[str, str], out: Path, err: Path
) -> None:
    """In the forked process: become ``python -m module *argv`` in ``cwd`` with ``env``."""
    import importlib
    import traceback

    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(env)
    for fd, path in ((1, out), (2, err)):
        os.dup2(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), fd)
    os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
    sys.stdin = open(0, closefd=False)  # noqa: SIM115 (the process's own streams)
    sys.stdout = open(1, "w", buffering=1, closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115
    sys.argv = [module, *argv]
    sys.path.insert(0, str(cwd))  # as `python -m` puts the working folder first
    code: int
    try:
        importlib.import_module(module).main()
        code = 0
    except SystemExit as exc:
        if exc.code is None or isinstance(exc.code, int):
            code = exc.code or 0
        else:
            print(exc.code, file=sys.stderr)
            code = 1
    except BaseException:
        traceback.print_exc()
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def main() -> None:
    """``python -m tests.forked``: print the preloaded modules this process lacks (none, when the
    server imported them all; tests/test_forked.py runs it through :func:`run_module`)."""
    print(" ".join(m for m in _PRELOAD if m not in sys.modules) or "all preloaded")
