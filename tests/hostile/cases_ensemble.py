"""Hostile cases: the stacked ensemble (``predictor=ensemble``) and its members' configs.

Each case adds a member of its own (a constant, a linear regression, a chat model on an endpoint
nothing listens on) and, where the case fits members, drops the default ones first, so it stays
cheap and does not depend on what the defaults are. What needs a server (an LLM member's cache)
is in ``tests/test_ensemble.py``. Tried as well, and ending in one line by the same code as a case
here (left out for the suite's time): ``predictor.validation_size=1``, a member's value out of
range, a member config without ``_target_``, a member that fails to fit (its error is prefixed
``ensemble member NAME:``).
"""

from __future__ import annotations

from pathlib import Path

import yaml

from tests.hostile.cases import ROOT, Case

_CONF = ROOT / "conf" / "predictor" / "ensemble.yaml"


def _default_members(conf: Path = _CONF) -> list[str]:
    """The names of the members ``conf/predictor/ensemble.yaml`` puts in by default."""
    defaults = yaml.safe_load(conf.read_text())["defaults"]
    keys = [next(iter(entry)) for entry in defaults if isinstance(entry, dict)]
    return [key.split("@members.", 1)[1] for key in keys if "@members." in key]


# Overrides that drop every default member: a case then fits only the members it adds.
_ALONE = [f"~predictor@predictor.members.{name}" for name in _default_members()]
_NOWHERE = "http://127.0.0.1:9/v1"  # the discard port: a request sent would fail otherwise
_KEY = {"OPENAI_API_KEY": "sk-" + "hostile-0000000000000000"}


def _case(id: str, args: list[str], expect: str) -> Case:
    return Case(
        id=id, row=0, command="pricebench",
        args=["predictor=ensemble", *args, "tracker=none", "data.size=5", "results.dir={tmp}/r",
              "cache.dir={tmp}/cache"],
        expect="^pricebench: error: " + expect, env=_KEY,
    )  # fmt: skip


CASES = [
    _case("ensemble-one-fold", ["predictor.folds=1"],
          r"predictor\.folds must be an integer ≥ 2, got 1$"),
    _case("ensemble-member-setting-misspelt",
          ["+predictor@predictor.members.c=constant", "+predictor.members.c.valeu=3"],
          r"predictor\.members\.c\.valeu is not a setting of predictors\.baselines\."
          r"ConstantPricer: did you mean predictor\.members\.c\.value\?$"),
    _case("ensemble-no-members", ["predictor.members=null"],
          r"predictor\.members is empty: give the ensemble at least one member, e\.g\. "
          r"\+predictor@predictor\.members\.ridge=ridge$"),
    _case("ensemble-member-not-importable",
          [*_ALONE, "+predictor@predictor.members.c=constant",
           "predictor.members.c._target_=nope.X"],
          r"predictor\.members\.c\._target_=nope\.X cannot be imported \(No module named 'nope'\); "
          r"give a predictor config, e\.g\. predictor@predictor\.members\.c=ridge$"),
    _case("ensemble-fewer-items-than-folds",
          [*_ALONE, "+predictor@predictor.members.c=constant", "data.train_size=3"],
          r"the ensemble needs at least predictor\.folds=5 training items to cross-fit, got 3; "
          r"lower predictor\.folds or give more training items$"),
    _case("ensemble-llm-member-over-its-max-cost",
          [*_ALONE, "+predictor@predictor.members.c=constant",
           "+predictor@predictor.members.gpt=gpt-4o-mini",
           f"predictor.members.gpt.base_url={_NOWHERE}", "predictor.members.gpt.max_cost=0.0001",
           "predictor.validation_size=10"],
          r"ensemble member gpt: this run would cost up to \$[0-9.]+ \(15 requests not in the "
          r"cache: .*over predictor\.members\.gpt\.max_cost=\$0\.0001; raise it "
          r"\(predictor\.members\.gpt\.max_cost=[0-9.]+\) or set "
          r"predictor\.members\.gpt\.max_cost=null$"),
]  # fmt: skip
