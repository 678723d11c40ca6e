"""The forked runner (tests/forked.py) starts each command from a server that has imported
pricebench already; if that preload failed (it fails silently), every command would pay the imports
again and the suite would be seconds slower per command without any test failing."""

from __future__ import annotations

import os
from pathlib import Path

from tests.forked import run_module


def test_a_forked_command_finds_every_preloaded_module_imported(tmp_path: Path) -> None:
    # run from another folder: the server must still find tests/ (it starts from the project root)
    proc = run_module("tests.forked", [], tmp_path, dict(os.environ))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "all preloaded"
