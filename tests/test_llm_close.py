"""Ctrl-C can cut the HTTP client off between creating a coroutine and awaiting it; when the loop
is closed, Python then warns that the coroutine "was never awaited" (seen from httpcore's
``_send_request_body`` in a Ctrl-C test), a second stderr line after pricebench's one line."""

from __future__ import annotations

import asyncio
import gc
import warnings

from predictors.llm import _close_loop


async def _step() -> None:
    return None


class _CutOffClient:
    """A client whose ``close`` drops a coroutine it never awaits, as an interrupted request
    leaves one behind."""

    async def close(self) -> None:
        _step()  # noqa: RUF006  (created and dropped: never awaited)


def test_closing_the_loop_says_nothing_of_coroutines_the_interrupt_left_unawaited() -> None:
    loop = asyncio.new_event_loop()
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        _close_loop(loop, _CutOffClient())
        gc.collect()
    assert [str(w.message) for w in seen] == []
