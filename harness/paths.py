"""Where the project's own files are, for every entry point (nothing imports the CLI for them)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# An installed wheel carries the configs inside the package (pyproject maps the top-level conf/
# to harness/conf); a checkout or an editable install reads conf/ beside the packages.
_PACKAGED = Path(__file__).resolve().parent / "conf"
CONF_DIR = str(_PACKAGED if _PACKAGED.is_dir() else ROOT / "conf")
