"""What a person sees: the course's per-item lines, its summary line, and the scatter chart."""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from harness.results import atomic_write

ANSI = {"green": "\033[92m", "orange": "\033[93m", "red": "\033[91m"}
RESET = "\033[0m"


def use_colour(setting: str | bool, stream: TextIO = sys.stdout) -> bool:
    """``auto`` colours a terminal unless NO_COLOR is set; ``always``/``never`` force it."""
    if isinstance(setting, bool):
        return setting
    if setting == "always":
        return True
    if setting == "never":
        return False
    return stream.isatty() and "NO_COLOR" not in os.environ


# Control characters (newlines, tabs, the escape that starts a terminal sequence) in a title
# would break the one-line-per-item layout or drive the terminal: each is shown as a space.
_CONTROL = {code: " " for code in (*range(0x00, 0x20), *range(0x7F, 0xA0))}


def short_title(title: str, width: int = 40) -> str:
    """The title as plain text on one line, cut to ``width`` characters."""
    title = title.translate(_CONTROL)
    return title if len(title) <= width else title[:width] + "..."


def item_line(position: int, record: dict[str, Any], colour: bool = False) -> str:
    """``1: Guess: $120.00 Truth: $374.41 Error: $254.41 SLE: 1.28 Item: OEM AC Compressor...``"""
    line = (
        f"{position + 1}: Guess: ${record['guess']:,.2f} Truth: ${record['truth']:,.2f} "
        f"Error: ${record['error']:,.2f} SLE: {record['sle']:,.2f} "
        f"Item: {short_title(record['title'])}"
    )
    return f"{ANSI[record['colour']]}{line}{RESET}" if colour else line


def print_items(records: Sequence[dict[str, Any]], colour: bool, stream: TextIO) -> None:
    stream.write("".join(item_line(i, r, colour) + "\n" for i, r in enumerate(records)))


def save_chart(
    path: str | Path,
    truths: Sequence[float],
    guesses: Sequence[float],
    colours: Sequence[str],
    title: str,
) -> Path:
    """Truth against guess, coloured like the per-item lines, with the y = x line; headless.

    ``title`` is drawn as typed (no mathtext: a `$` is a dollar). The axes span the largest
    finite value, so a value that is not finite cannot make them fail."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(12, 8))
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    finite = [v for v in (*truths, *guesses) if math.isfinite(v)]
    top = max(finite, default=1.0) or 1.0
    axes.plot([0, top], [0, top], color="deepskyblue", lw=2, alpha=0.6)
    axes.scatter(truths, guesses, s=3, c=list(colours))
    axes.set_xlabel("Ground Truth")
    axes.set_ylabel("Model Estimate")
    axes.set_xlim(0, top)
    axes.set_ylim(0, top)
    axes.set_title(title, parse_math=False)  # a title is plain text: `$` is a dollar, not mathtext
    return atomic_write(path, lambda f: figure.savefig(f, format="png", dpi=80), binary=True)
