"""The regression gate, ``pricebench-leaderboard --compare BASE NEW --fail-if-worse``, on the
course's recordings. The brief names gpt-4o-2024-08-06 against svr; neither has a published
per-item recording (reported.csv), so the recorded pair nearest to it stands in: gpt-4o-mini
(the best recording) as the strong run and the human baseline as the weak one."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from harness import leaderboard_cli
from harness.compare import gate
from harness.leaderboard import find_run
from tests.conftest import REFERENCE_DIR, run_cli, run_dirs

STRONG, WEAK, TUNED = "gpt-4o-mini", "human", "gpt-4o-mini-fine-tuned"


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cwd = tmp_path_factory.mktemp("gate")
    for name in (STRONG, WEAK, TUNED):
        done = run_cli("predictor=replay", f"predictor.path={REFERENCE_DIR / name}.csv", cwd=cwd)
        assert done.returncode == 0, done.stderr
    return cwd / "results"


def folder(store: Path, name: str) -> str:
    (path,) = [p for p in run_dirs(store) if re.search(rf"_{re.escape(name)}_[0-9a-f]+$", p.name)]
    return path.name


def run_gate(store: Path, capsys, base: str, new: str, *extra: str) -> tuple[int, str]:
    args = ["--results", str(store), "--compare", folder(store, base), folder(store, new)]
    with pytest.raises(SystemExit) as exit_info:
        leaderboard_cli.main([*args, "--fail-if-worse", *extra])
    captured = capsys.readouterr()
    assert captured.err == ""
    return int(exit_info.value.code or 0), captured.out.splitlines()[-1]


def test_a_significantly_worse_new_run_fails_the_gate(store: Path, capsys) -> None:
    code, line = run_gate(store, capsys, STRONG, WEAK)
    assert code == 1
    assert line == (
        "gate: FAIL: NEW is worse than BASE on error ($126.55 vs $79.58, Wilcoxon signed-rank on "
        "absolute errors p = 2.44e-12, < alpha 0.05; 250 shared items)"
    )


def test_a_better_new_run_passes_the_gate(store: Path, capsys) -> None:
    code, line = run_gate(store, capsys, WEAK, STRONG)
    assert code == 0
    assert line.startswith("gate: pass: NEW is better than BASE on error ($79.58 vs $126.55")


def test_the_hit_rate_is_judged_by_mcnemar(store: Path, capsys) -> None:
    code, line = run_gate(store, capsys, STRONG, WEAK, "--metric", "hit_rate")
    assert code == 1 and "hit_rate (32.0% vs 52.0%, McNemar exact on hits p = 3.11e-07" in line
    code, line = run_gate(store, capsys, WEAK, STRONG, "--metric", "hit_rate")
    assert code == 0


def test_alpha_decides_a_closer_call(store: Path, capsys) -> None:
    # The fine-tuned model is worse than gpt-4o-mini ($91.45 vs $79.58): Wilcoxon's p is 0.0018.
    code, line = run_gate(store, capsys, STRONG, TUNED)
    assert code == 1 and "p = 0.00184" in line
    code, line = run_gate(store, capsys, STRONG, TUNED, "--alpha", "0.001")
    assert code == 0
    assert line.startswith("gate: pass: NEW is not significantly worse than BASE on error")


def test_the_same_run_passes(store: Path, capsys) -> None:
    code, line = run_gate(store, capsys, STRONG, STRONG)
    assert code == 0 and "p = 1," in line


def test_gate_verdict_matches_the_paired_test_of_stats(store: Path) -> None:
    from harness.stats import paired_comparison

    base, new = (find_run(store, folder(store, n)).records for n in (STRONG, WEAK))
    verdict = gate(base, new)
    assert verdict.p == paired_comparison(base, new, n_boot=1).wilcoxon_p
    assert verdict.worse and verdict.test == "Wilcoxon signed-rank on absolute errors"
    assert gate(base, new, "hit_rate").p == paired_comparison(base, new, n_boot=1).mcnemar_p
    with pytest.raises(ValueError, match="the gate cannot judge 'bias'"):
        gate(base, new, "bias")
