"""The pure half of the LLM predictors: the course's chat prompt; reading a price from a reply."""

from __future__ import annotations

import math
import re
import string
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import yaml

from harness.data import Item
from harness.errors import PricebenchError
from harness.paths import CONF_DIR

# The course's prompt is written once, in conf/prompt/course.yaml, which the configs use too.
_COURSE = yaml.safe_load((Path(CONF_DIR) / "prompt" / "course.yaml").read_text(encoding="utf-8"))
SYSTEM_PROMPT: str = _COURSE["system_prompt"]
PREFILL: str = _COURSE["prefill"]
REMOVE: tuple[str, ...] = tuple(_COURSE["remove"])
USER_TEMPLATE: str = _COURSE["user_template"]

# How a reply is read (``predictor.parse``). ``course``: the course's own ``get_price``, exactly:
# drop `$` and `,`, then the first match of its regex, whose sign belongs to the decimal
# alternative only, so "-5" is read as 5, "-5.5" as -5.5 and "1.2k" as 1.2.
COURSE_NUMBER = re.compile(r"[-+]?\d*\.\d+|\d+")
# ``lenient``: the first number with a minus sign directly before it kept ("-5" is -5, scored as
# $0 and counted as clipped), times 1000 when followed by `k` or `thousand` ("1.2k" is 1200).
_NUMBER = re.compile(r"(?:(?<![\w.])-)?(?:\d*\.\d+|\d+)")
_SPELLED_SUFFIX = re.compile(r"^\s*(k|thousand)\b", re.IGNORECASE)
PARSES = ("course", "lenient")
Parse = Literal["course", "lenient"]

# The fields a user template may name, and what each holds.
TEMPLATE_FIELDS = ("description", "title", "category", "prompt")


def check_template(
    template: str,
    key: str = "predictor.user_template",
    fields: Sequence[str] = TEMPLATE_FIELDS,
    required: Sequence[str] = (),
) -> None:
    """Raise one :class:`PricebenchError` line naming ``key`` unless ``template`` is a plain
    ``str.format`` template over ``fields`` (:data:`TEMPLATE_FIELDS` for a user template):
    balanced braces, named fields only, no attribute or index access (``{{`` and ``}}`` are
    literal braces), using every one of ``required``."""
    named = ", ".join("{" + f + "}" for f in fields)
    usable = f"it may use {named} (and {{{{ }}}} for literal braces)"
    try:
        parts = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise PricebenchError(
            f"{key} {template[:60]!r} has unbalanced braces ({exc}); {usable}"
        ) from None
    used = set()
    for _, name, spec, _ in parts:
        if name is None:
            continue
        if name in fields and "{" not in (spec or ""):
            used.add(name)
            continue
        if name in fields:
            what = f"a field inside a format spec, {{{name}:{spec}}}"
        elif "." in name or "[" in name:
            what = f"{{{name}}}: attribute and index access are not allowed"
        elif not name or name.isdigit():
            what = f"a positional field, {{{name}}}"
        else:
            what = f"an unknown field, {{{name}}}"
        raise PricebenchError(f"{key} {template[:60]!r} uses {what}; {usable}")
    try:
        template.format(**dict.fromkeys(fields, ""))
    except (ValueError, TypeError) as exc:
        raise PricebenchError(
            f"{key} {template[:60]!r} does not format ({exc}); {usable}"
        ) from None
    for name in required:
        if name not in used:
            raise PricebenchError(
                f"{key} {template[:60]!r} does not use {{{name}}}; {usable}, and must use "
                f"{', '.join('{' + r + '}' for r in required)}"
            )


def build_messages(
    item: Item,
    system_prompt: str = SYSTEM_PROMPT,
    user_template: str = USER_TEMPLATE,
    prefill: str | None = PREFILL,
    remove: Sequence[str] = REMOVE,
) -> list[dict[str, str]]:
    """The course's messages: system prompt, the test prompt without its question tail and
    answer stem, and the assistant prefill ``Price is $``.

    ``user_template`` may use ``{description}`` (the cleaned prompt; for a 2025-edition item, its
    summary, as that edition's ``messages_for`` sends), ``{title}``, ``{category}`` and
    ``{prompt}`` (the raw test prompt, which ends with ``Price is $`` and never holds the answer).
    """
    check_template(user_template)
    description = item.body
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


def parse_price(text: str | None, parse: str = "course") -> float | None:
    """The price a reply holds, read as ``parse`` says; None if it holds no number.

    ``course`` (the default) is the course's ``get_price``: drop ``$`` and ``,``, take the first
    match of ``[-+]?\\d*\\.\\d+|\\d+``. ``1,299.99`` → 1299.99, ``Price is $99.99`` → 99.99,
    ``about 100 dollars`` → 100, ``-5`` → 5, ``-5.5`` → -5.5, ``1.2k`` → 1.2, a refusal → None
    (the course's 0, scored the same, and counted as unparseable).
    ``lenient``: the first number, a minus sign directly before it kept, times 1000 before ``k``
    or ``thousand``: ``-5`` → -5, ``1.2k`` → 1200.
    """
    if parse not in PARSES:
        raise PricebenchError(f"predictor.parse must be one of {', '.join(PARSES)}, got {parse!r}")
    if not text:
        return None
    cleaned = text.replace("$", "").replace(",", "")
    if parse == "course":
        found = COURSE_NUMBER.search(cleaned)
        return None if found is None else float(found.group())
    match = _NUMBER.search(cleaned)
    if match is None:
        return None
    value = float(match.group())
    if _SPELLED_SUFFIX.match(cleaned[match.end() :]):
        value *= 1000
    return value if math.isfinite(value) else None
