"""The fine-tuning "prepare" stage: chat examples, their checks, and the two JSONL files."""

from __future__ import annotations

import copy
import dataclasses
import json
import re
import sys
import types
from pathlib import Path

import pytest

from finetune.data import (
    estimate_tokens,
    prepare,
    read_examples,
    training_example,
    validate_examples,
)
from harness.data import load_dataset
from harness.errors import PricebenchError
from predictors.prompts import PREFILL, REMOVE, SYSTEM_PROMPT, build_messages

DATA_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "pricer"


@pytest.fixture(scope="module")
def dataset():
    if not (DATA_DIR / "test.jsonl").is_file():
        pytest.fail(f"benchmark data not found at {DATA_DIR}: clone the project beside ../shared")
    return load_dataset(str(DATA_DIR))


@pytest.fixture(scope="module")
def examples(dataset) -> list[dict]:
    return [training_example(item) for item in dataset.train[:20]]


def assert_refused(excinfo: pytest.ExceptionInfo, output_dir: Path, *fragments: str) -> None:
    message = str(excinfo.value)
    assert message and "\n" not in message
    for fragment in fragments:
        assert fragment in message
    assert not output_dir.exists() or not any(output_dir.iterdir())


def test_training_example_is_the_predictors_prompt_plus_the_answer(dataset) -> None:
    item = dataset.train[0]
    messages = training_example(item)["messages"]
    assert [m["role"] for m in messages] == ["system", "user", "assistant"]
    assert messages[0]["content"] == SYSTEM_PROMPT
    assert messages[1]["content"] == build_messages(item)[1]["content"]
    assert messages[2]["content"] == f"Price is ${item.price:.2f}"
    assert re.fullmatch(r"Price is \$\d+\.\d\d", messages[2]["content"])
    assert messages[2]["content"] == "Price is $226.95"
    other = training_example(item, prefill="Cost: $")["messages"]
    assert other[:2] == messages[:2] and other[2]["content"] == "Cost: $226.95"


def test_the_finetune_config_trains_on_the_predictors_prompt() -> None:
    from hydra import compose, initialize_config_dir

    from harness.paths import CONF_DIR

    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        finetune = compose("finetune")
        predictor = compose("config", overrides=["predictor=fine_tuned"]).predictor
    prompt = {key: finetune.prompt[key] for key in ("system_prompt", "user_template", "prefill")}
    assert prompt == {
        "system_prompt": SYSTEM_PROMPT,
        "user_template": predictor.user_template,
        "prefill": predictor.prefill,
    }
    assert list(finetune.prompt.remove) == list(predictor.remove) == list(REMOVE)
    assert predictor.system_prompt == SYSTEM_PROMPT and predictor.prefill == PREFILL


def test_prepare_writes_both_slices_in_order(dataset, tmp_path: Path) -> None:
    out = tmp_path / "finetune"
    train, validation = prepare(dataset.train, dataset.test, out)
    assert (train.name, train.examples, train.path) == ("training", 200, out / "train.jsonl")
    assert (validation.name, validation.examples) == ("validation", 50)
    assert validation.path == out / "validation.jsonl"
    assert sorted(p.name for p in out.iterdir()) == ["train.jsonl", "validation.jsonl"]
    written_train = [json.loads(line) for line in train.path.read_text("utf-8").splitlines()]
    written_validation = read_examples(validation.path)
    assert written_train == [training_example(item) for item in dataset.train[:200]]
    assert written_validation == [training_example(item) for item in dataset.train[200:250]]
    assert train.tokens == estimate_tokens(written_train) > validation.tokens > 0
    assert train.duplicates == validation.duplicates == 0


def test_prepare_counts_duplicates(dataset, tmp_path: Path) -> None:
    items = dataset.train[:10] + [dataset.train[3], dataset.train[4]] + dataset.train[10:15]
    train, validation = prepare(items, dataset.test, tmp_path, train_size=12, validation_size=5)
    assert (train.duplicates, validation.duplicates) == (2, 0)
    assert validate_examples([training_example(dataset.train[0])] * 3, set(), "x") == 2


def test_refuses_a_fixed_test_item_in_the_slices(dataset, tmp_path: Path) -> None:
    items = dataset.train[:5] + [dataset.test[7]] + dataset.train[5:30]
    with pytest.raises(PricebenchError) as excinfo:
        prepare(items, dataset.test, tmp_path, train_size=20, validation_size=5)
    assert_refused(excinfo, tmp_path, "training slice item 6", "fixed test set")
    items = dataset.train[:25] + [dataset.test[0]]
    with pytest.raises(PricebenchError) as excinfo:
        prepare(items, dataset.test, tmp_path, train_size=20, validation_size=6)
    assert_refused(excinfo, tmp_path, "validation slice item 6", "fixed test set")


def test_refuses_an_oversized_slice(dataset, tmp_path: Path) -> None:
    with pytest.raises(PricebenchError) as excinfo:
        prepare(dataset.train[:100], dataset.test, tmp_path, train_size=90, validation_size=20)
    assert_refused(excinfo, tmp_path, "has 100", "`train_size`", "`validation_size`")
    with pytest.raises(PricebenchError) as excinfo:
        prepare(dataset.train, dataset.test, tmp_path, train_size=50, max_examples=40)
    assert_refused(excinfo, tmp_path, "max_examples=40")


@pytest.mark.parametrize(
    ("train_size", "validation_size", "fragment"),
    [(9, 5, "at least 10 training"), (0, 5, "train_size=0"), (20, 0, "validation_size=0")],
)
def test_refuses_too_small_slices(
    dataset, tmp_path: Path, train_size: int, validation_size: int, fragment: str
) -> None:
    with pytest.raises(PricebenchError) as excinfo:
        prepare(dataset.train, dataset.test, tmp_path, train_size, validation_size)
    assert_refused(excinfo, tmp_path, fragment)


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"price": 0.0}, "price 0.0 must be above 0"),
        ({"price": float("nan")}, "must be above 0"),
        ({"price": "12"}, "not a number"),
        ({"text": ""}, "empty text"),
        ({"title": "  "}, "empty title"),
    ],
)
def test_refuses_malformed_items(dataset, tmp_path: Path, change: dict, fragment: str) -> None:
    items = list(dataset.train[:30])
    items[12] = dataclasses.replace(items[12], **change)
    with pytest.raises(PricebenchError) as excinfo:
        prepare(items, dataset.test, tmp_path, train_size=20, validation_size=10)
    assert_refused(excinfo, tmp_path, "training slice item 13", fragment)


def _leak(user: str):
    def edit(example: dict) -> None:
        example["messages"][1]["content"] = user
        example["messages"][2]["content"] = "Price is $12.50"

    return edit


@pytest.mark.parametrize(
    ("edit", "fragment"),
    [
        (lambda e: e.pop("messages"), '"messages"'),
        (lambda e: e.update(messages="text"), '"messages"'),
        (lambda e: e["messages"].reverse(), "roles are"),
        (lambda e: e["messages"].pop(0), "roles are"),
        (lambda e: e["messages"][0].update(role="developer"), "roles are"),
        (lambda e: e["messages"][2].update(content="  "), "assistant message's content is empty"),
        (lambda e: e["messages"][1].update(content=""), "user message's content is empty"),
        (lambda e: e["messages"][0].update(content=None), "system message's content is empty"),
        (_leak("Widget\n\nPrice is $12.50"), "answer 'Price is $12.50' appears"),
        (_leak("Widget, costs 12.50 today"), "answer 'Price is $12.50' appears"),
    ],
)
def test_validate_examples_refuses(examples: list[dict], edit, fragment: str) -> None:
    broken = copy.deepcopy(examples)
    edit(broken[3])
    with pytest.raises(PricebenchError) as excinfo:
        validate_examples(broken, set(), "training slice")
    message = str(excinfo.value)
    assert message.startswith("training slice example 4: ") and "\n" not in message
    assert fragment in message


def test_validate_examples_refuses_a_test_prompt(examples: list[dict]) -> None:
    test_prompts = {examples[5]["messages"][1]["content"]}
    with pytest.raises(PricebenchError, match=r"^validation slice example 6: refusing: item is in"):
        validate_examples(examples, test_prompts, "validation slice")


def test_answer_check_ignores_a_price_inside_a_longer_number(examples: list[dict]) -> None:
    example = copy.deepcopy(examples[0])
    example["messages"][1]["content"] = "Part 1226.95 and 26.951 mm"
    example["messages"][2]["content"] = "Price is $26.95"
    assert validate_examples([example], set(), "training slice") == 0


def _reversed_roles(example: dict) -> None:
    example["messages"].reverse()


def _answer_in_prompt(example: dict) -> None:
    example["messages"][1]["content"] += " " + example["messages"][2]["content"]


@pytest.mark.parametrize(
    ("edit", "prompts", "fragment"),
    [
        (_reversed_roles, {}, "roles are ['assistant', 'user', 'system']"),
        (_answer_in_prompt, {}, "appears inside the user prompt"),
        (None, {"system_prompt": ""}, "roles are ['user', 'assistant']"),
        (None, {"user_template": "  "}, "user message's content is empty"),
    ],
)
def test_a_refused_example_leaves_no_file(
    dataset, tmp_path: Path, monkeypatch, edit, prompts: dict, fragment: str
) -> None:
    from finetune import data as finetune_data

    def edited(*args):
        example = training_example(*args)
        edit(example)
        return example

    if edit is not None:
        monkeypatch.setattr(finetune_data, "training_example", edited)
    out = tmp_path / "out"
    with pytest.raises(PricebenchError) as excinfo:
        finetune_data.prepare(dataset.train, dataset.test, out, 20, 5, **prompts)
    assert_refused(excinfo, out, "training slice example 1: ", fragment)


def test_estimate_tokens_grows_with_content(examples: list[dict]) -> None:
    one = estimate_tokens(examples[:1])
    assert one > 0
    assert estimate_tokens(examples[:2]) > one
    longer = copy.deepcopy(examples[:1])
    longer[0]["messages"][1]["content"] += " more words" * 50
    assert estimate_tokens(longer) > one
    assert estimate_tokens([]) == 0


def test_estimate_tokens_uses_tiktoken_when_installed(examples: list[dict], monkeypatch) -> None:
    class Encoding:
        def encode(self, text: str) -> list[str]:
            return text.split()

    fake = types.SimpleNamespace(get_encoding=lambda name: Encoding())
    monkeypatch.setitem(sys.modules, "tiktoken", fake)
    words = sum(len(str(v).split()) for m in examples[0]["messages"] for v in m.values())
    assert estimate_tokens(examples[:1]) == words + 3 * 3 + 3


def test_estimate_tokens_falls_back_when_tiktoken_cannot_load_its_encoding(
    examples: list[dict], monkeypatch
) -> None:
    # tiktoken downloads its encodings on first use; offline that raises, and the estimate must
    # fall back to the characters/4 rule instead of failing the whole prepare stage.
    def offline(name: str):
        raise ConnectionError("could not fetch o200k_base.tiktoken")

    monkeypatch.setitem(sys.modules, "tiktoken", types.SimpleNamespace(get_encoding=offline))
    with_broken_tiktoken = estimate_tokens(examples[:2])
    monkeypatch.setitem(sys.modules, "tiktoken", None)  # as if not installed
    assert with_broken_tiktoken == estimate_tokens(examples[:2]) > 0
