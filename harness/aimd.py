"""An asyncio concurrency limit that adapts like TCP: additive increase, multiplicative decrease.

Each request holds a slot while it runs. A request that met congestion (a 429, or retries) halves
the limit; every request that did not adds ``1 / limit``, so the limit regrows by about one slot
per round of requests, never above its ceiling.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class AIMDLimiter:
    def __init__(self, ceiling: int, floor: int = 1, decrease: float = 0.5) -> None:
        if ceiling < 1:
            raise ValueError(f"concurrency must be at least 1, not {ceiling}")
        self.ceiling = ceiling
        self.floor = max(1, min(floor, ceiling))
        self.decrease = decrease
        self.limit = float(ceiling)
        self.in_flight = 0
        self.backoffs = 0
        self._changed: asyncio.Condition | None = None

    @property
    def current(self) -> int:
        """The whole number of requests allowed at once right now."""
        return max(self.floor, math.floor(self.limit))

    def _condition(self) -> asyncio.Condition:
        if self._changed is None:
            self._changed = asyncio.Condition()
        return self._changed

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one slot for the duration of a request."""
        changed = self._condition()
        async with changed:
            await changed.wait_for(lambda: self.in_flight < self.current)
            self.in_flight += 1
        try:
            yield
        finally:
            async with changed:
                self.in_flight -= 1
                changed.notify(max(0, self.current - self.in_flight))  # wake only whom fits

    def record(self, congested: bool) -> None:
        """Adapt the limit to how the last request went."""
        if congested:
            self.limit = max(float(self.floor), self.limit * self.decrease)
            self.backoffs += 1
        else:
            self.limit = min(float(self.ceiling), self.limit + 1.0 / max(self.limit, 1.0))
