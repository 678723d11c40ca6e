"""Hostile cases: ``pricebench doctor`` (issue 16) given odd paths, garbage data, places it cannot
write and bad overrides. A problem it finds is a line of its report on stdout (checked by each
case's ``check``) and one summary line on stderr, exit 1; a bad override is the main command's
one line, exit 2; and it never writes into the case's folder.
"""

from __future__ import annotations

import pickle
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

from tests.hostile.cases import DATA_DIR, Case

ODD = "odd 'dir' ü"  # a space, quotes and a non-ASCII letter


class _Boom:
    """Pickles as a call to ``os.system``: a test.pkl that would run code if unpickled freely."""

    def __reduce__(self) -> tuple[object, tuple[str]]:
        import os

        return (os.system, ("echo pwned > pwned.txt",))


def _odd_data(tmp: Path) -> None:
    (tmp / ODD).mkdir()
    shutil.copy(DATA_DIR / "test.jsonl", tmp / ODD / "test.jsonl")


def _garbage(tmp: Path) -> None:
    (tmp / "data").mkdir()
    (tmp / "data" / "test.jsonl").write_bytes(b'{"title": "x", "price"\n\xff\xfe garbage \x00\n')


def _evil_pickle(tmp: Path) -> None:
    (tmp / "data").mkdir()
    (tmp / "data" / "test.pkl").write_bytes(pickle.dumps([_Boom()]))


def _report_has(line: str, *, unchanged: tuple[str, ...] = ()) -> Callable:
    """A check: stdout has a line starting with ``line``; the case's folder still holds only
    ``unchanged`` (doctor wrote nothing)."""

    def check(tmp: Path, done: subprocess.CompletedProcess) -> None:
        text = line.replace("{tmp}", str(tmp))
        assert any(out.startswith(text) for out in done.stdout.splitlines()), done.stdout
        assert sorted(p.name for p in tmp.iterdir()) == sorted(unchanged), list(tmp.iterdir())

    return check


def _bad_data(id: str, setup: Callable[[Path], object], line: str) -> Case:
    """Data that cannot be read: one problem, named, and the data folder left as it was."""
    return Case(
        id=id,
        row=0,
        command="pricebench",
        args=["doctor", "data.path={tmp}/data", "tracker=none", "results.dir={tmp}/r"],
        setup=setup,
        expect=r"^doctor: 1 problem above \(data\)$",
        exit_code=1,
        check=_report_has(line, unchanged=("data",)),
    )


CASES = [
    Case(
        id="doctor-odd-data-path",
        row=0,
        command="pricebench",
        args=["doctor", f'data.path="{{tmp}}/{ODD}"', "tracker=none", "results.dir={tmp}/r"],
        setup=_odd_data,
        expect=r"^data: .*/odd 'dir' ü/test\.jsonl -- 250 test items, fingerprint 11fdbb90c91f, "
        r"canonical",
        stream="stdout",
        exit_code=0,
        check=_report_has("doctor: all set", unchanged=(ODD,)),
    ),
    _bad_data("doctor-data-garbage", _garbage, "data: {tmp}/data/test.jsonl:1: malformed JSON"),
    _bad_data(
        "doctor-data-pickle-that-runs-code",
        _evil_pickle,
        "data: refusing to load {tmp}/data/test.pkl",
    ),
    Case(
        id="doctor-results-and-wandb-under-a-file",
        row=0,
        command="pricebench",
        args=["doctor", "results.dir={tmp}/f/r", "tracker.dir={tmp}/f/w", "tracker.mode=offline"],
        setup=lambda tmp: (tmp / "f").write_text("a file\n"),
        expect=r"^doctor: 2 problems above \(W&B, results\)$",
        exit_code=1,
        check=_report_has(
            "results: {tmp}/f/r cannot be written: {tmp}/f is a file, not a folder",
            unchanged=("f",),
        ),
    ),
    Case(
        id="doctor-no-data-path-names-the-hub",
        row=0,
        command="pricebench",
        args=["doctor", "tracker=none", "results.dir={tmp}/r"],
        env={"PRICEBENCH_DATA": "", "HF_ENDPOINT": "http://127.0.0.1:1", "HF_HUB_OFFLINE": "1"},
        expect=r"^data: no data\.path or PRICEBENCH_DATA: a run downloads the test split of the "
        r"hub dataset ed-donner/pricer-data \(needs network; not tried here\)",
        stream="stdout",
        exit_code=0,
        check=_report_has("doctor: all set"),
    ),
    Case(
        id="doctor-unresolvable-setting",
        row=0,
        command="pricebench",
        args=["doctor", "results.dir=${oc.env:PRICEBENCH_DOCTOR_UNSET}"],
        expect=r"^pricebench: error: the configuration does not resolve: .*PRICEBENCH_DOCTOR_UNSET",
    ),
    Case(
        id="doctor-hydra-flag",
        row=0,
        command="pricebench",
        args=["doctor", "--cfg", "job"],
        expect=r"^pricebench: error: doctor takes KEY=VALUE overrides only, not --cfg ",
    ),
]
