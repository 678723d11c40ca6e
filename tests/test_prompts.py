"""The pure parts of the LLM predictors: the course's messages and reading a price from a reply."""

from __future__ import annotations

import re

import pytest

from harness.data import load_dataset
from harness.errors import PricebenchError
from predictors.prompts import PREFILL, SYSTEM_PROMPT, build_messages, check_template, parse_price


def get_price(s: str) -> float:
    """The course's reading of a reply (week 6, the fine-tuning notebook), verbatim."""
    s = s.replace("$", "").replace(",", "")
    match = re.search(r"[-+]?\d*\.\d+|\d+", s)
    return float(match.group()) if match else 0


# reply, the course's reading (predictor.parse=course, the default), the lenient reading
READINGS = [
    ("260", 260.0, 260.0),
    ("260.00", 260.0, 260.0),
    ("174.99", 174.99, 174.99),
    ("1,299.99", 1299.99, 1299.99),
    ("$85", 85.0, 85.0),
    ("$ 85", 85.0, 85.0),
    ("Price is $99.99", 99.99, 99.99),
    ("about 100 dollars", 100.0, 100.0),
    ("~45", 45.0, 45.0),
    ("USD 45.50", 45.5, 45.5),
    ("100-150", 100.0, 100.0),  # a range: its first number, as the course did
    ("between 100 and 150", 100.0, 100.0),
    (".99", 0.99, 0.99),
    ("99.", 99.0, 99.0),
    ("1.2k", 1.2, 1200.0),  # the course ignores the k
    ("12 thousand", 12.0, 12000.0),
    ("-5", 5.0, -5.0),  # the course's sign belongs to its decimal alternative only
    ("-5.5", -5.5, -5.5),  # ... which takes it here; scored as $0 and counted as clipped
    ("+3.5", 3.5, 3.5),
    ("-.5", -0.5, -0.5),
    ("0", 0.0, 0.0),
    ("  42\n", 42.0, 42.0),
    ("1,000,000", 1000000.0, 1000000.0),
    ("1e5", 1.0, 1.0),
    ("12-3", 12.0, 12.0),
]


@pytest.mark.parametrize(("reply", "course", "lenient"), READINGS)
def test_the_default_reading_is_the_courses(reply: str, course: float, lenient: float) -> None:
    assert get_price(reply) == course  # the table holds what the course's function returns
    assert parse_price(reply) == course
    assert parse_price(reply, "course") == course


@pytest.mark.parametrize(("reply", "course", "lenient"), READINGS)
def test_the_lenient_reading(reply: str, course: float, lenient: float) -> None:
    assert parse_price(reply, "lenient") == pytest.approx(lenient)


@pytest.mark.parametrize("parse", ["course", "lenient"])
@pytest.mark.parametrize(
    "reply",
    ["", None, "   ", "I'm sorry, I can't help with that.", "unknown", "N/A", "twenty", "$", "nan"],
)
def test_replies_without_a_price_are_unparseable(reply: str | None, parse: str) -> None:
    assert parse_price(reply, parse) is None  # the course's 0: scored the same, and counted
    assert reply is None or get_price(reply) == 0


def test_an_unknown_reading_is_one_line() -> None:
    with pytest.raises(PricebenchError, match="^predictor.parse must be one of course, lenient"):
        parse_price("5", "strict")


def test_course_replies_reparse_to_their_recorded_guesses(data_dir) -> None:
    import csv

    with (data_dir / "reference" / "gpt-4o-mini.csv").open() as f:
        for row in csv.DictReader(f):
            assert parse_price(row["guess"]) == float(row["guess"]) == get_price(row["guess"])
            assert parse_price(row["guess"], "lenient") == float(row["guess"])


@pytest.fixture(scope="module")
def item(data_dir):
    return load_dataset(str(data_dir), need_train=False).test[0]


def test_course_messages(item) -> None:
    messages = build_messages(item)
    assert [m["role"] for m in messages] == ["system", "user", "assistant"]
    assert messages[0]["content"] == SYSTEM_PROMPT
    user = messages[1]["content"]
    assert user.startswith("How much does this cost?\n\nOEM AC Compressor")
    assert "to the nearest dollar" not in user and not user.endswith("Price is $")
    assert user.endswith("Included in this K")
    assert messages[2] == {"role": "assistant", "content": PREFILL}


def test_prompt_parts_are_configurable(item) -> None:
    messages = build_messages(
        item, system_prompt="", user_template="{title} ({category})", prefill=None
    )
    assert messages == [{"role": "user", "content": f"{item.title} (Automotive)"}]


@pytest.mark.parametrize(
    ("template", "what"),
    [
        ("{descrption}", "uses an unknown field, {descrption}"),
        ("{description", "has unbalanced braces (expected '}' before end of string)"),
        ("price: }", "has unbalanced braces (Single '}' encountered in format string)"),
        ("{title.__class__}", "uses {title.__class__}: attribute and index access are not allowed"),
        ("{prompt[0]}", "uses {prompt[0]}: attribute and index access are not allowed"),
        ("{0}", "uses a positional field, {0}"),
        ("{title:>{prompt}}", "uses a field inside a format spec, {title:>{prompt}}"),
        ("{title:d}", "does not format (Unknown format code 'd' for object of type 'str')"),
    ],
)
def test_a_bad_template_is_one_line_naming_the_fields(item, template: str, what: str) -> None:
    fields = (
        "it may use {description}, {title}, {category}, {prompt} (and {{ }} for literal braces)"
    )
    message = f"predictor.user_template {template!r} {what}; {fields}"
    with pytest.raises(PricebenchError) as caught:
        check_template(template)
    assert str(caught.value) == message
    with pytest.raises(PricebenchError) as built:  # a predictor built in Python says the same
        build_messages(item, user_template=template)
    assert str(built.value) == message


def test_literal_braces_and_conversions_are_fine(item) -> None:
    check_template("{{json}} {description!r} {title:>5}")
    assert build_messages(item, user_template="{{x}}", system_prompt="", prefill=None) == [
        {"role": "user", "content": "{x}"}
    ]
