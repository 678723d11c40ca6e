"""Token counts of chat messages, for cost estimates before anything is sent.

With ``tiktoken`` installed and able to load its encoding, messages are counted the way OpenAI's
cookbook does (3 tokens framing each message, its role and content, 3 priming the reply). tiktoken
downloads encodings on first use, so offline, or without it, the count falls back to about one
token per 4 characters of content plus 4 tokens of framing per message.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

ENCODING = "o200k_base"  # GPT-4o and later; close enough for other providers' estimates
CHARS_PER_TOKEN = 4
TOKENS_PER_MESSAGE = 4
_loaded: list[tuple[Any, Any]] = []  # [(the tiktoken module, its encoding or None)]


def encoding() -> Any | None:
    """tiktoken's ``o200k_base`` encoding, or None when tiktoken is missing or cannot load it."""
    try:
        import tiktoken
    except ImportError:
        return None
    if tiktoken is None:  # blocked in sys.modules
        return None
    if not _loaded or _loaded[0][0] is not tiktoken:
        try:
            loaded = tiktoken.get_encoding(ENCODING)
        except Exception:  # offline download, corrupt cache, ...: estimate without it
            loaded = None
        _loaded[:] = [(tiktoken, loaded)]
    return _loaded[0][1]


def count_messages(messages: Iterable[Mapping[str, Any]]) -> int:
    """Tokens of one request's messages (the framing of the reply included)."""
    enc = encoding()
    if enc is not None:
        total = 3
        for message in messages:
            total += 3 + sum(len(enc.encode(str(value))) for value in message.values())
        return total
    return sum(
        math.ceil(len(str(message.get("content") or "")) / CHARS_PER_TOKEN) + TOKENS_PER_MESSAGE
        for message in messages
    )


def counter_name() -> str:
    """How :func:`count_messages` counts right now (for the estimate's wording)."""
    return f"tiktoken {ENCODING}" if encoding() is not None else "~4 characters a token"
