"""The wheel (issue 12, row 11): ``pip wheel .`` builds a wheel that runs from any folder, with
its configs inside it, installed somewhere that is not the checkout.

The checkout keeps its top-level ``conf/`` (the required layout); pyproject maps it into the
wheel as ``harness/conf`` and :mod:`harness.paths` prefers that copy when it is there.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from harness import paths
from tests.conftest import DATA_DIR

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("pyproject.toml", "README.md", "harness", "predictors", "finetune", "conf")


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_every_package_of_the_checkout_is_listed_for_the_wheel() -> None:
    # pyproject lists its packages by name (a mapped conf/ cannot be found by `find`): a new
    # sub-package that is not listed would be missing from the wheel.
    found = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for top in ("harness", "predictors", "finetune")
        for init in (ROOT / top).rglob("__init__.py")
    }
    groups = {  # conf/ and its config groups, as harness.conf.<group>
        ".".join(("harness", "conf", *folder.relative_to(ROOT / "conf").parts))
        for folder in (ROOT / "conf", *(ROOT / "conf").rglob("*"))
        if folder.is_dir() and "__pycache__" not in folder.parts
    }
    setuptools = _pyproject()["tool"]["setuptools"]
    assert sorted(setuptools["packages"]) == sorted(found | groups)
    assert setuptools["package-dir"] == {"harness.conf": "conf"}


def test_a_checkout_reads_its_top_level_conf() -> None:
    assert Path(paths.CONF_DIR) == ROOT / "conf"
    assert not (ROOT / "harness" / "conf").exists()  # only the wheel has a packaged copy


def _can_build_without_isolation() -> bool:
    """The venv's setuptools can build the wheel offline (>= 68, with a bdist_wheel)."""
    if importlib.util.find_spec("setuptools") is None:
        return False
    import setuptools

    major = int(setuptools.__version__.split(".")[0])
    has_bdist_wheel = major >= 71 or importlib.util.find_spec("wheel") is not None
    return major >= 68 and has_bdist_wheel


def _build_wheel(tmp_path: Path) -> Path:
    # Built from a copy, so the build's egg-info and build/ never land in the checkout.
    source = tmp_path / "source"
    source.mkdir()
    for name in SOURCES:
        origin = ROOT / name
        if origin.is_dir():
            shutil.copytree(origin, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(origin, source / name)
    dist = tmp_path / "dist"
    command = [sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "-w", str(dist)]
    if _can_build_without_isolation():
        command.append("--no-build-isolation")  # offline: the dev extras install setuptools
    # else pip fetches setuptools into an isolated build environment from the package index
    built = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stdout + built.stderr
    (wheel,) = dist.glob("pricebench-*.whl")
    return wheel


@pytest.mark.slow
def test_the_wheel_runs_outside_the_checkout_with_its_own_configs(tmp_path: Path) -> None:
    wheel = _build_wheel(tmp_path)
    site = tmp_path / "site"
    installed = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--target", str(site), str(wheel)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr
    # every config of the checkout is in the wheel, byte for byte
    packaged = site / "harness" / "conf"
    shipped = sorted(p.relative_to(packaged) for p in packaged.rglob("*.yaml"))
    expected = sorted(p.relative_to(ROOT / "conf") for p in (ROOT / "conf").rglob("*.yaml"))
    assert shipped == expected and expected
    for name in expected:
        assert (packaged / name).read_bytes() == (ROOT / "conf" / name).read_bytes(), name
    assert not (site / "conf").exists()  # no top-level `conf` package to clash with others'

    elsewhere = tmp_path / "elsewhere"  # a folder with no conf/, outside the checkout
    elsewhere.mkdir()
    env = {
        **os.environ,
        "PYTHONPATH": str(site),
        "PRICEBENCH_DATA": str(DATA_DIR),
        "HOME": str(tmp_path),
        "WANDB_DIR": str(tmp_path),
        "NO_COLOR": "1",
    }
    for name in ("WANDB_MODE", "WANDB_API_KEY", "PRICEBENCH_CACHE"):
        env.pop(name, None)

    def run(*command: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            command, cwd=elsewhere, env=env, capture_output=True, text=True, timeout=300
        )

    where = run(sys.executable, "-c", "import harness.paths as p; print(p.__file__, p.CONF_DIR)")
    assert where.returncode == 0, where.stderr
    module, conf_dir = where.stdout.split()
    assert Path(module).is_relative_to(site)  # the wheel's harness, not the checkout's
    assert Path(conf_dir) == packaged

    scripts = site / "bin"
    searchpath = run(str(scripts / "pricebench"), "--info", "searchpath")
    assert searchpath.returncode == 0, searchpath.stderr
    # Hydra's table: "| main     | file:///.../site/harness/conf |"
    (main,) = [x for x in searchpath.stdout.splitlines() if x.split()[1:2] == ["main"]]
    assert main.split()[3] == f"file://{packaged}"

    done = run(str(scripts / "pricebench"), "predictor=constant", "quiet=true", "progress=false")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    # the constant predictor fitted on the shared training items, as the checkout prints it
    assert "constant Error=$145.27 RMSLE=1.22 Hits=16.8%" in done.stdout.splitlines()
    (hydra_yaml,) = (elsewhere / "outputs").rglob(".hydra/hydra.yaml")
    assert f"path: {packaged}" in hydra_yaml.read_text(), "the run did not read the wheel's conf"
    assert (elsewhere / "results").is_dir()

    for script in ("pricebench-leaderboard", "pricebench-finetune"):
        helped = run(str(scripts / script), "--help")
        assert helped.returncode == 0, (script, helped.stderr)
        assert script in helped.stdout
        assert "Traceback" not in helped.stdout + helped.stderr
