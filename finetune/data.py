"""The "prepare" stage of fine-tuning GPT-4o-mini: chat-format JSONL for a training and a
validation slice, every check passed before any file is written.

Each example is the LLM predictor's own system and user messages plus the course's answer,
``Price is $226.95``, so a fine-tuned model is trained on exactly the prompt it is scored with.
Nothing here talks to the network: invalid data is refused (``PricebenchError``) before it could
be uploaded.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from harness.data import Item
from harness.errors import PricebenchError
from harness.results import write_jsonl
from harness.tokens import count_messages
from predictors.prompts import PREFILL, REMOVE, SYSTEM_PROMPT, USER_TEMPLATE, build_messages

ROLES = ("system", "user", "assistant")
TRAIN_FILE = "train.jsonl"
VALIDATION_FILE = "validation.jsonl"
MIN_TRAIN_EXAMPLES = 10  # OpenAI's minimum for a fine-tuning job

Example = dict[str, list[dict[str, str]]]


@dataclass(slots=True)
class SliceReport:
    """What :func:`prepare` found and wrote for one slice."""

    name: str  # "training" | "validation"
    path: Path
    examples: int
    tokens: int  # estimate_tokens over all messages
    duplicates: int  # examples whose user content repeats an earlier one in this slice


def training_example(
    item: Item,
    system_prompt: str = SYSTEM_PROMPT,
    user_template: str = USER_TEMPLATE,
    remove: Sequence[str] = REMOVE,
    prefill: str = PREFILL,
) -> Example:
    """``{"messages": [system, user, assistant]}``: the system and user messages the LLM predictor
    sends for ``item`` and the course's answer ``Price is $<price with two decimals>`` (``prefill``
    followed by the price)."""
    messages = build_messages(item, system_prompt, user_template, prefill=None, remove=remove)
    messages.append({"role": "assistant", "content": f"{prefill}{item.price:.2f}"})
    return {"messages": messages}


def estimate_tokens(examples: Sequence[dict]) -> int:
    """An estimate of the tokens a fine-tuning job bills per epoch for ``examples``: the sum of
    :func:`harness.tokens.count_messages` over the examples (tiktoken's count when it can load
    its encoding, else about one token per 4 characters)."""
    return sum(count_messages(example.get("messages", [])) for example in examples)


def _leaks_answer(answer: str, user: str) -> bool:
    if answer in user:
        return True
    bare = answer.removeprefix(PREFILL).strip()
    # the bare price as a number of its own: "26.95" inside "226.95" is not a leak
    return bool(bare) and re.search(rf"(?<![\d.]){re.escape(bare)}(?!\d)", user) is not None


def _check_example(example: object, test_user_prompts: set[str]) -> str:
    """The example's user content; ValueError says what is wrong with it."""
    if not isinstance(example, dict) or not isinstance(example.get("messages"), list):
        raise ValueError('lacks a "messages" list')
    messages = example["messages"]
    if not all(isinstance(m, dict) for m in messages):
        raise ValueError("every message must be an object with role and content")
    roles = tuple(m.get("role") for m in messages)
    if roles != ROLES:
        raise ValueError(f"roles are {list(roles)}, expected exactly {list(ROLES)} in that order")
    for message in messages:
        content = message.get("content")
        if not isinstance(content, str) or not content.strip():
            raise ValueError(f"the {message['role']} message's content is empty or not text")
    user, answer = messages[1]["content"], messages[2]["content"]
    if _leaks_answer(answer, user):
        raise ValueError(f"the answer {answer!r} appears inside the user prompt")
    if user in test_user_prompts:
        raise ValueError("refusing: item is in the fixed test set (leakage)")
    return user


def validate_examples(examples: Sequence[dict], test_user_prompts: set[str], where: str) -> int:
    """Refuse (PricebenchError naming ``where`` and the 1-based example number) any example that
    lacks a ``messages`` list, whose roles are not exactly system, user, assistant, whose content
    is empty or not text, whose answer appears in its user prompt, or whose user prompt is one of
    ``test_user_prompts`` (a fixed-test item would be trained on). Returns the number of examples
    whose user prompt repeats an earlier one (duplicates are reported, not refused)."""
    seen: set[str] = set()
    duplicates = 0
    for number, example in enumerate(examples, 1):
        try:
            user = _check_example(example, test_user_prompts)
        except ValueError as exc:
            raise PricebenchError(f"{where} example {number}: {exc}") from None
        duplicates += user in seen
        seen.add(user)
    return duplicates


def _check_sizes(train_size: int, validation_size: int, available: int, max_examples: int) -> None:
    for key, value, least in (
        ("train_size", train_size, 1),
        ("validation_size", validation_size, 1),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise PricebenchError(f"{key}={value!r}: must be a whole number of at least {least}")
    if train_size < MIN_TRAIN_EXAMPLES:
        raise PricebenchError(
            f"train_size={train_size}: OpenAI needs at least {MIN_TRAIN_EXAMPLES} training "
            f"examples; raise train_size to {MIN_TRAIN_EXAMPLES} or more"
        )
    for key, value in (("train_size", train_size), ("validation_size", validation_size)):
        if value > max_examples:
            raise PricebenchError(
                f"{key}={value} is more than max_examples={max_examples}; lower {key}"
            )
    if train_size + validation_size > available:
        raise PricebenchError(
            f"train_size={train_size} + validation_size={validation_size} needs "
            f"{train_size + validation_size} items but the training source has {available}; "
            "lower `train_size` or `validation_size`"
        )


def _check_items(items: Sequence[Item], test_texts: set[str], where: str) -> None:
    for number, item in enumerate(items, 1):
        label = f"{where} item {number} ({str(getattr(item, 'title', ''))[:40]!r})"
        price = item.price
        if isinstance(price, bool) or not isinstance(price, int | float):
            raise PricebenchError(f"{label}: price {price!r} is not a number; fix or drop the item")
        if not (math.isfinite(price) and price > 0):
            raise PricebenchError(f"{label}: price {price} must be above 0; fix or drop the item")
        for field in ("text", "title"):
            value = getattr(item, field)
            if not isinstance(value, str) or not value.strip():
                raise PricebenchError(f"{label}: empty {field}; fix or drop the item")
        if item.text in test_texts:
            raise PricebenchError(
                f"{label}: refusing: item is in the fixed test set (its text equals a test "
                "item's); drop it from the training source"
            )


def prepare(
    train_items: Sequence[Item],
    test_items: Sequence[Item],
    output_dir: str | Path,
    train_size: int = 200,
    validation_size: int = 50,
    system_prompt: str = SYSTEM_PROMPT,
    user_template: str = USER_TEMPLATE,
    remove: Sequence[str] = REMOVE,
    max_examples: int = 50_000,
    prefill: str = PREFILL,
) -> tuple[SliceReport, SliceReport]:
    """Write ``train.jsonl`` (``train_items[:train_size]``) and ``validation.jsonl`` (the next
    ``validation_size`` items) under ``output_dir``, one chat example per line.

    Everything is checked before anything is written: slice sizes (at least 10 training and 1
    validation example, no more than the source holds or ``max_examples``), the items (a finite
    price above 0, non-empty text and title, no text equal to a fixed-test item's) and then the
    examples themselves (:func:`validate_examples`). Each file is written atomically.
    """
    _check_sizes(train_size, validation_size, len(train_items), max_examples)
    slices = {
        "training": list(train_items[:train_size]),
        "validation": list(train_items[train_size : train_size + validation_size]),
    }
    test_texts = {item.text for item in test_items}
    for name, items in slices.items():
        _check_items(items, test_texts, f"{name} slice")

    def example(item: Item) -> Example:
        return training_example(item, system_prompt, user_template, remove, prefill)

    test_user_prompts = {example(item)["messages"][1]["content"] for item in test_items}
    output_dir = Path(output_dir)
    prepared = []
    for (name, items), filename in zip(slices.items(), (TRAIN_FILE, VALIDATION_FILE), strict=True):
        examples = [example(item) for item in items]
        duplicates = validate_examples(examples, test_user_prompts, f"{name} slice")
        report = SliceReport(
            name, output_dir / filename, len(examples), estimate_tokens(examples), duplicates
        )
        prepared.append((report, examples))
    for report, examples in prepared:
        write_jsonl(report.path, examples)
    return prepared[0][0], prepared[1][0]


def read_examples(path: str | Path) -> list[Example]:
    """The examples of a JSONL file that :func:`prepare` wrote."""
    with Path(path).open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]
