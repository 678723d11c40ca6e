"""Hostile input for issue 14's item-level ``--compare`` and its regression gate
(``--fail-if-worse``, ``--metric``, ``--alpha``): each bad flag is one line, exit 2. The issue has
no table of rows, so every case is row 0. The gate's exits 1 and 0 on good runs are tested in
tests/test_gate.py (an exit of 1 there is a verdict on stdout, not an error line)."""

from __future__ import annotations

from tests.hostile.cases import Case
from tests.hostile.cases_board import good_runs

LB = "pricebench-leaderboard"
ERR = r"^pricebench-leaderboard: error: "
RUNS = ["--results", "{tmp}/results", "--compare", "20260101", "20260102"]


def _setup(tmp):  # type: ignore[no-untyped-def]
    good_runs(tmp)


CASES: list[Case] = [
    Case(id="compare-alpha-above-one", row=0, command=LB, args=[*RUNS, "--alpha", "2"],
         expect=ERR + r"--alpha takes a significance level between 0 and 1 \(e\.g\. 0\.05\), "
         r"not 2$", setup=_setup),
    Case(id="compare-alpha-zero", row=0, command=LB,
         args=[*RUNS, "--fail-if-worse", "--alpha", "0"], expect=ERR + r"--alpha .* not 0$",
         setup=_setup),
    Case(id="compare-alpha-nan", row=0, command=LB, args=[*RUNS, "--alpha", "nan"],
         expect=ERR + r"--alpha .* not nan$", setup=_setup),
    Case(id="compare-alpha-not-a-number", row=0, command=LB, args=[*RUNS, "--alpha", "five%"],
         expect=ERR + r"argument --alpha: invalid float value: 'five%'", setup=_setup),
    Case(id="gate-without-compare", row=0, command=LB,
         args=["--results", "{tmp}/results", "--fail-if-worse"],
         expect=ERR + r"--fail-if-worse applies to a comparison: add --compare BASE NEW",
         setup=_setup),
    Case(id="alpha-without-compare", row=0, command=LB,
         args=["--results", "{tmp}/results", "--alpha", "0.01"],
         expect=ERR + r"--alpha applies to a comparison", setup=_setup),
    Case(id="gate-metric-without-direction", row=0, command=LB,
         args=[*RUNS, "--fail-if-worse", "--metric", "bias"],
         expect=ERR + r"the gate cannot judge --metric 'bias': use one of error, ", setup=_setup),
    Case(id="gate-metric-unknown", row=0, command=LB,
         args=[*RUNS, "--fail-if-worse", "--metric", "accuracy"],
         expect=ERR + r"the gate cannot judge --metric 'accuracy'", setup=_setup),
    Case(id="compare-metric-without-gate", row=0, command=LB, args=[*RUNS, "--metric", "rmsle"],
         expect=ERR + r"--metric chooses what the gate judges: add --fail-if-worse",
         setup=_setup),
    Case(id="gate-missing-run", row=0, command=LB,
         args=["--results", "{tmp}/results", "--compare", "20260101", "nothing", "--fail-if-worse"],
         expect=ERR + r"no run named 'nothing'", setup=_setup),
    Case(id="compare-html-output-under-a-file", row=0, command=LB,
         args=[*RUNS, "--format", "html", "--output", "{tmp}/results/20260101-000000_narrow_000001/"
               "metrics.json/page.html"],
         expect=ERR + r"cannot write .*page\.html: ", setup=_setup),
]  # fmt: skip
