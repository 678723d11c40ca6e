"""The pure half of the LLM predictors: the course's chat prompt; reading a price from a reply."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from pathlib import Path

import yaml

from harness.data import Item
from harness.paths import CONF_DIR

# The course's prompt is written once, in conf/prompt/course.yaml, which the configs use too.
_COURSE = yaml.safe_load((Path(CONF_DIR) / "prompt" / "course.yaml").read_text(encoding="utf-8"))
SYSTEM_PROMPT: str = _COURSE["system_prompt"]
PREFILL: str = _COURSE["prefill"]
REMOVE: tuple[str, ...] = tuple(_COURSE["remove"])
USER_TEMPLATE: str = _COURSE["user_template"]

# The course's rule takes the first number once `$` and `,` are gone; a sign directly before it is
# kept, so "-5" is read as -5 (scored as $0 and counted as clipped) rather than 5.
_NUMBER = re.compile(r"(?:(?<![\w.])-)?(?:\d*\.\d+|\d+)")
_SPELLED_SUFFIX = re.compile(r"^\s*(k|thousand)\b", re.IGNORECASE)


def build_messages(
    item: Item,
    system_prompt: str = SYSTEM_PROMPT,
    user_template: str = USER_TEMPLATE,
    prefill: str | None = PREFILL,
    remove: Sequence[str] = REMOVE,
) -> list[dict[str, str]]:
    """The course's messages: system prompt, the test prompt without its question tail and
    answer stem, and the assistant prefill ``Price is $``.

    ``user_template`` may use ``{description}`` (the cleaned prompt), ``{title}``, ``{category}``
    and ``{prompt}`` (the raw test prompt).
    """
    description = item.text
    for fragment in remove:
        description = description.replace(fragment, "")
    user = user_template.format(
        description=description, title=item.title, category=item.category or "", prompt=item.text
    )
    messages = []
    if system_prompt:
        messages.append({"role": "system", "content": system_prompt})
    messages.append({"role": "user", "content": user})
    if prefill:
        messages.append({"role": "assistant", "content": prefill})
    return messages


def parse_price(text: str | None) -> float | None:
    """The first number in a reply, after dropping ``$`` and thousands commas; None if there is
    none. ``1,299.99`` → 1299.99, ``Price is $99.99`` → 99.99, ``about 100 dollars`` → 100,
    ``1.2k`` → 1200, ``-5`` → -5, a refusal → None."""
    if not text:
        return None
    cleaned = text.replace("$", "").replace(",", "")
    match = _NUMBER.search(cleaned)
    if match is None:
        return None
    value = float(match.group())
    if _SPELLED_SUFFIX.match(cleaned[match.end() :]):
        value *= 1000
    return value if math.isfinite(value) else None
