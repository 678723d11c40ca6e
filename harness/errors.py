"""The one exception type a user can cause, and the one-line forms problems are reported in."""

import sys


class PricebenchError(Exception):
    """A problem with the user's input or setup: the message says what is wrong and the fix."""


def first_line(exc: BaseException) -> str:
    """An exception as one short line: its type and the first line of its message."""
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0][:200]}" if text else type(exc).__name__


def warn(message: str) -> None:
    """One warning line on stderr: something went wrong that costs no result."""
    print(f"pricebench: warning: {message}", file=sys.stderr, flush=True)
