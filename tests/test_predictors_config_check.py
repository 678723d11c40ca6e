"""Config values checked when composed (issue 12, row 8): every shipped predictor config passes the
check, and a wrong value is one line naming the key, the value and what it must be."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import pytest

from harness.config_check import Range, check_config, check_value, describe_type
from harness.errors import PricebenchError
from harness.paths import CONF_DIR
from harness.run import compose

PREDICTORS = sorted(p.stem for p in (Path(CONF_DIR) / "predictor").glob("*.yaml"))


@pytest.mark.parametrize("predictor", PREDICTORS)
def test_every_shipped_predictor_config_passes(predictor: str) -> None:
    check_config(compose([f"predictor={predictor}", "tracker=none"]))


@pytest.mark.parametrize("parse", ["course", "lenient"])
def test_both_readings_of_a_reply_pass(parse: str) -> None:
    check_config(compose(["predictor=gpt-4o-mini", f"predictor.parse={parse}"]))


def _error(*overrides: str) -> str:
    with pytest.raises(PricebenchError) as caught:
        check_config(compose(list(overrides)))
    return str(caught.value)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["predictor=gpt-4o-mini", "predictor.concurrency=abc"],
         "predictor.concurrency must be an integer ≥ 1, got 'abc'"),
        (["predictor=gpt-4o-mini", "predictor.concurrency=0"],
         "predictor.concurrency must be an integer ≥ 1, got 0"),
        (["predictor=gpt-4o-mini", "predictor.timeout=-1"],
         "predictor.timeout must be a number > 0, got -1"),
        (["predictor=gpt-4o-mini", "predictor.timeout=inf"],
         "predictor.timeout must be a number > 0, got inf"),
        (["predictor=gpt-4o-mini", "predictor.seed=1.5"],
         "predictor.seed must be an integer or null, got 1.5"),
        (["predictor=gpt-4o-mini", "predictor.quiet=abc"],
         "predictor.quiet must be true or false, got 'abc'"),
        (["predictor=anthropic", "predictor.max_tokens=0"],
         "predictor.max_tokens must be an integer ≥ 1, got 0"),
        (["predictor=svr", "predictor.C=0"], "predictor.C must be a number > 0, got 0"),
        (["predictor=linear_features", "predictor.fit_intercept=1"],
         "predictor.fit_intercept must be true or false, got 1"),
        (["predictor=constant", "color=red"],
         "color must be one of auto, always, never, got 'red'"),
        (["predictor=constant", "results.dir=[a]"], "results.dir must be text, got ['a']"),
        (["predictor=constant", "name=7"],
         "name must be text, got the number 7: quote it, name=\"'7'\""),
    ],
)  # fmt: skip
def test_a_wrong_value_is_one_line_naming_the_key(overrides: list[str], message: str) -> None:
    assert _error(*overrides) == message


def test_interpolated_values_are_checked_as_resolved() -> None:
    # predictor.quiet is ${quiet} and cache_enabled ${cache.enabled}: the top-level key is named
    assert _error("predictor=gpt-4o-mini", "quiet=2") == "quiet must be true or false, got 2"


def test_a_number_for_a_float_setting_is_fine_and_text_that_names_no_number_is_not() -> None:
    check_config(compose(["predictor=gpt-4o-mini", "predictor.timeout=5", "predictor.max_cost=1"]))
    assert (
        _error("predictor=gpt-4o-mini", "predictor.input_price='1.5$'")
        == "predictor.input_price must be a number ≥ 0, got '1.5$'"
    )


def test_quoted_numbers_for_text_keys_are_text() -> None:
    check_config(compose(["predictor=constant", "title='2024'", "name='2025'"]))


@pytest.mark.parametrize(
    ("annotation", "limits", "words"),
    [
        (int, Range(1), "an integer ≥ 1"),
        (float, Range(0, open_low=True), "a number > 0"),
        (float | None, Range(0), "a number ≥ 0 or null"),
        (Literal["a", "b"], None, "one of a, b"),
        (list[str], None, "a list of texts"),
        (str | None, None, "text or null"),
        (bool, None, "true or false"),
        (float, Range(0, 2), "a number ≥ 0 and ≤ 2"),
    ],
)
def test_types_in_words(annotation: object, limits: Range | None, words: str) -> None:
    assert describe_type(annotation, limits) == words


@pytest.mark.parametrize(
    ("value", "annotation", "fits"),
    [
        (True, int, False),
        (3, float, True),
        (float("nan"), float, False),
        ("x", Literal["x"], True),
        (1, Literal["1"], False),
        (["a", "b"], list[str], True),
        (["a", 1], list[str], False),
        ({"a": 1}, dict[str, int], True),
        ({"a": "b"}, dict[str, int], False),
        (None, int | None, True),
        (object(), object, True),
    ],
)
def test_values_against_annotations(value: object, annotation: object, fits: bool) -> None:
    if fits:
        check_value("k", value, annotation)
    else:
        with pytest.raises(PricebenchError, match="^k must be "):
            check_value("k", value, annotation)
