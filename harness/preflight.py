"""Before paying for anything: the folders a run will write to (results, the response cache,
W&B's folder when tracking) can be written, each failure one line naming the key."""

from __future__ import annotations

from omegaconf import DictConfig

__all__ = ["check_writable"]


def check_writable(cfg: DictConfig) -> None:
    """Raise :class:`~harness.errors.PricebenchError` naming the first folder that cannot be
    written."""
