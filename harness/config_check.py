"""Config values checked when a config is composed, before anything is built: types and ranges,
each failure one line naming the key (``predictor.concurrency must be ...``)."""

from __future__ import annotations

from omegaconf import DictConfig

__all__ = ["check_config"]


def check_config(cfg: DictConfig) -> None:
    """Raise :class:`~harness.errors.PricebenchError` naming the first key whose value is wrong."""
