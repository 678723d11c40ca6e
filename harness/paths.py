"""Where the project's own files are, for every entry point (nothing imports the CLI for them)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# conf/ sits beside the packages at the top of the project (installed with `pip install -e .`).
CONF_DIR = str(ROOT / "conf")
