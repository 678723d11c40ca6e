"""The pure parts of the LLM predictors: the course's messages and reading a price from a reply."""

from __future__ import annotations

import pytest

from harness.data import load_dataset
from predictors.prompts import PREFILL, SYSTEM_PROMPT, build_messages, parse_price


@pytest.mark.parametrize(
    ("reply", "price"),
    [
        ("260", 260.0),
        ("260.00", 260.0),
        ("174.99", 174.99),
        ("1,299.99", 1299.99),
        ("$85", 85.0),
        ("$ 85", 85.0),
        ("Price is $99.99", 99.99),
        ("about 100 dollars", 100.0),
        ("~45", 45.0),
        ("USD 45.50", 45.5),
        ("100-150", 100.0),  # a range: its first number, as the course did
        ("between 100 and 150", 100.0),
        (".99", 0.99),
        ("99.", 99.0),
        ("1.2k", 1200.0),
        ("12 thousand", 12000.0),
        ("-5", -5.0),  # kept negative: scored as $0 and counted as clipped
        ("0", 0.0),
        ("  42\n", 42.0),
        ("1,000,000", 1000000.0),
    ],
)
def test_parse_price(reply: str, price: float) -> None:
    assert parse_price(reply) == pytest.approx(price)


@pytest.mark.parametrize(
    "reply",
    ["", None, "   ", "I'm sorry, I can't help with that.", "unknown", "N/A", "twenty", "$", "nan"],
)
def test_replies_without_a_price_are_unparseable(reply: str | None) -> None:
    assert parse_price(reply) is None


def test_course_replies_reparse_to_their_recorded_guesses(data_dir) -> None:
    import csv

    with (data_dir / "reference" / "gpt-4o-mini.csv").open() as f:
        for row in csv.DictReader(f):
            assert parse_price(row["guess"]) == float(row["guess"])


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
