"""Hostile cases: predictor configs, replies, the response cache, LLM faults.

These are the cases that end before any request: a config value of the wrong type or out of
range, a template that does not format. What needs a server running during the case (a reply that
is not JSON, a cache row that is not JSON, Ctrl-C) is in ordinary tests:
``tests/test_predictors_faults.py`` and ``tests/test_interrupts.py``.
"""

from __future__ import annotations

import re
from pathlib import Path

from tests.hostile.cases import Case

# An endpoint nothing listens on (the discard port): a case that sent a request would fail with
# another line.
_NOWHERE = "http://127.0.0.1:9/v1"
_KEY = {"OPENAI_API_KEY": "sk-" + "hostile-0000000000000000"}
_FIELDS = re.escape("it may use {description}, {title}, {category}, {prompt}")


def _llm(id: str, row: int, setting: str, expect: str) -> Case:
    """``pricebench predictor=gpt-4o-mini <setting>`` against an endpoint that is not there."""
    return Case(
        id=id,
        row=row,
        command="pricebench",
        args=[
            "predictor=gpt-4o-mini",
            f"predictor.base_url={_NOWHERE}",
            setting,
            "tracker=none",
            "data.size=3",
            "cache.dir={tmp}/cache",
            "results.dir={tmp}/r",
        ],  # fmt: skip
        expect="^pricebench: error: " + expect,
        env=_KEY,
    )


def _fine_tuned(id: str, row: int, registry: str, content: str | None, expect: str) -> Case:
    """``predictor=fine_tuned predictor.suffix=pricer`` with ``registry`` (written with
    ``content`` first, unless None)."""

    def setup(tmp: Path) -> None:
        if content is not None:
            (tmp / registry).write_text(content, encoding="utf-8")

    return Case(
        id=id,
        row=row,
        command="pricebench",
        args=[
            "predictor=fine_tuned",
            "predictor.suffix=pricer",
            f"predictor.registry={registry}",
            f"predictor.base_url={_NOWHERE}",
            "tracker=none",
            "data.size=3",
            "cache.dir={tmp}/cache",
            "results.dir={tmp}/r",
        ],  # fmt: skip
        expect="^pricebench: error: " + expect,
        env=_KEY,
        setup=setup,
    )


def _run(id: str, row: int, args: list[str], expect: str) -> Case:
    return Case(
        id=id,
        row=row,
        command="pricebench",
        args=[*args, "tracker=none", "results.dir={tmp}/r"],
        expect="^pricebench: error: " + expect + "$",
    )


CASES: list[Case] = [
    # row 8: config values checked when composed, one line naming the key
    _llm(
        "predictor-concurrency-abc",
        8,
        "predictor.concurrency=abc",
        re.escape("predictor.concurrency must be an integer ≥ 1, got 'abc'") + "$",
    ),
    _llm(
        "predictor-user-template-misspelt",
        8,
        "predictor.user_template='{descrption}'",
        re.escape("predictor.user_template '{descrption}' uses an unknown field, {descrption}; ")
        + _FIELDS,
    ),
    _llm(
        "predictor-user-template-unbalanced",
        8,
        "predictor.user_template='Item: {description'",
        re.escape("predictor.user_template 'Item: {description' has unbalanced braces")
        + ".*"
        + _FIELDS,
    ),  # fmt: skip
    _llm(
        "predictor-user-template-attribute",
        8,
        "predictor.user_template='{title.__class__}'",
        re.escape("predictor.user_template '{title.__class__}' uses {title.__class__}: ")
        + re.escape("attribute and index access are not allowed; ")
        + _FIELDS,
    ),
    _llm(
        "predictor-user-template-index",
        8,
        "predictor.user_template='{title[0]}'",
        re.escape(
            "predictor.user_template '{title[0]}' uses {title[0]}: attribute and index access are "
            "not allowed"
        ),
    ),
    _llm(
        "predictor-user-template-positional",
        0,
        "predictor.user_template='{}'",
        re.escape("predictor.user_template '{}' uses a positional field, {}"),
    ),
    _llm(
        "predictor-timeout-zero",
        0,
        "predictor.timeout=0",
        re.escape("predictor.timeout must be a number > 0, got 0") + "$",
    ),
    _llm(
        "predictor-max-retries-negative",
        0,
        "predictor.max_retries=-1",
        re.escape("predictor.max_retries must be an integer ≥ 0, got -1") + "$",
    ),
    _llm(
        "predictor-temperature-negative",
        0,
        "predictor.temperature=-0.5",
        re.escape("predictor.temperature must be a number ≥ 0 or null, got -0.5") + "$",
    ),
    _llm(
        "predictor-temperature-nan",
        0,
        "predictor.temperature=nan",
        re.escape("predictor.temperature must be a number ≥ 0 or null, got nan") + "$",
    ),
    _llm(
        "predictor-concurrency-float",
        0,
        "predictor.concurrency=2.5",
        re.escape("predictor.concurrency must be an integer ≥ 1, got 2.5") + "$",
    ),
    _llm(
        "predictor-max-cost-text",
        0,
        "predictor.max_cost=cheap",
        re.escape("predictor.max_cost must be a number ≥ 0 or null, got 'cheap'") + "$",
    ),
    _llm(
        "predictor-batch-yes",
        0,
        "predictor.batch=yes",
        re.escape("predictor.batch must be true or false, got 'yes'") + "$",
    ),
    _llm(
        "predictor-parse-unknown",
        13,
        "predictor.parse=strict",
        re.escape("predictor.parse must be one of course, lenient, got 'strict'") + "$",
    ),
    _llm(
        "predictor-on-unparseable-unknown",
        0,
        "predictor.on_unparseable=skip",
        re.escape("predictor.on_unparseable must be one of zero, fail, got 'skip'") + "$",
    ),
    _llm(
        "predictor-remove-not-a-list",
        0,
        "predictor.remove=5",
        re.escape("predictor.remove must be a list of texts, got 5") + "$",
    ),
    _llm(
        "predictor-model-a-list",
        0,
        "predictor.model=[a,b]",
        re.escape("predictor.model must be text or null, got ['a', 'b']") + "$",
    ),
    _llm(
        "predictor-unknown-setting-close",
        0,
        "+predictor.concurency=4",
        re.escape(
            "predictor.concurency is not a setting of predictors.llm.ChatPricer: did you mean "
            "predictor.concurrency?"
        )
        + "$",
    ),
    _run(
        "random-seed-text",
        0,
        ["predictor=random", "predictor.seed=abc"],
        re.escape("predictor.seed must be an integer, got 'abc'"),
    ),
    _run(
        "constant-value-negative",
        0,
        ["predictor=constant", "predictor.value=-3"],
        re.escape("predictor.value must be a number ≥ 0 or null, got -3"),
    ),
    _run(
        "bow-max-features-text",
        0,
        ["predictor=bow_lr", "predictor.max_features=abc"],
        re.escape("predictor.max_features must be an integer ≥ 1 or null, got 'abc'"),
    ),
    _run(
        "forest-n-estimators-zero",
        0,
        ["predictor=random_forest", "predictor.n_estimators=0"],
        re.escape("predictor.n_estimators must be an integer ≥ 1, got 0"),
    ),
    _run(
        "unknown-setting-far",
        0,
        ["predictor=constant", "+predictor.colour=red"],
        re.escape("predictor.colour is not a setting of predictors.baselines.ConstantPricer: ")
        + re.escape("its settings are value"),
    ),
    # the fine-tuning registry a suffix is looked up in
    _fine_tuned(
        "fine-tuned-registry-a-folder",
        10,
        "{tmp}",
        None,
        r"predictor\.registry \S+ is a folder: give the registry file pricebench-finetune writes",
    ),
    # the top-level keys of conf/config.yaml
    _run(
        "top-quiet-abc",
        8,
        ["predictor=constant", "quiet=abc"],
        re.escape("quiet must be true or false, got 'abc'"),
    ),
    _run(
        "top-color-purple",
        0,
        ["predictor=constant", "color=purple"],
        re.escape("color must be one of auto, always, never, got 'purple'"),
    ),
    _run(
        "top-chart-number",
        0,
        ["predictor=constant", "chart=2"],
        re.escape("chart must be true or false, got 2"),
    ),
    _run(
        "top-progress-null",
        0,
        ["predictor=constant", "progress=null"],
        re.escape("progress must be true or false, got null"),
    ),
    _run(
        "top-title-number",
        0,
        ["predictor=constant", "title=2024"],
        re.escape("title must be text, got the number 2024: quote it, title=\"'2024'\""),
    ),
    _run(
        "top-title-list",
        0,
        ["predictor=constant", "title=[1,2]"],
        re.escape("title must be text or null, got [1, 2]"),
    ),
    _run(
        "top-cache-enabled-text",
        0,
        ["predictor=constant", "cache.enabled=maybe"],
        re.escape("cache.enabled must be true or false, got 'maybe'"),
    ),
]
