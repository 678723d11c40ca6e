"""Hostile input and faults, table-driven (issue 12): every case in the ``cases_*.py`` tables
here ends in one clear line with the exit code it names, or is handled, with no traceback.

Add a case: one :class:`Case` in the table of the area it belongs to (or a new ``cases_*.py``
module listed in ``TABLES``).
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

from tests.hostile.cases import Case, run_case

TABLES = (
    "cases_store",
    "cases_board",
    "cases_data",
    "cases_predictors",
    "cases_finetune",
    "cases_editions",
    "cases_compare",
    "cases_cost",
    "cases_learners",
    "cases_ensemble",
    "cases_rag",
    "cases_doctor",
    "cases_hub",
)


def _cases() -> list[Case]:
    cases: list[Case] = []
    for table in TABLES:
        cases.extend(importlib.import_module(f"tests.hostile.{table}").CASES)
    return cases


CASES = _cases()


def test_case_ids_are_unique() -> None:
    ids = [case.id for case in CASES]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_hostile(case: Case, tmp_path: Path) -> None:
    done = run_case(case, tmp_path)
    both = done.stdout + done.stderr
    assert "Traceback" not in both, both
    assert done.returncode == case.exit_code, both
    stream = done.stderr if case.stream == "stderr" else done.stdout
    lines = [line for line in stream.splitlines() if line.strip()]
    matching = [line for line in lines if re.search(case.expect, line)]
    assert len(matching) == 1, f"one line matching {case.expect!r} expected in:\n{stream}"
    if case.exit_code != 0:
        assert len([x for x in done.stderr.splitlines() if x.strip()]) == 1, done.stderr
    if case.check is not None:
        case.check(tmp_path, done)
