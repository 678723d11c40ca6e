"""Typed schemas (Hydra structured configs) that configs are checked against when composed.

``register()`` puts them in Hydra's ConfigStore; a config group file names its schema first in
its defaults list (``conf/data/pricer.yaml``: ``- optional /schema@_here_: data``), so a value of
the wrong type (``data.size=abc``) fails at composition, before anything runs. Every entry point
registers them before composing (:func:`harness.run.compose`, the ``pricebench`` app).
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.data import CANONICAL_SIZE, HUB_DATASET

SCHEMA_GROUP = "schema"


@dataclass
class DataConfig:
    """``data/``: where the items come from (:func:`harness.data.load_dataset`'s keywords)."""

    path: str | None = None  # a folder or a file; None: $PRICEBENCH_DATA, else the hub
    size: int = CANONICAL_SIZE  # the first N test items; another size is not canonical
    hub: str = HUB_DATASET
    cache_dir: str | None = None
    train_path: str | None = None  # a file or folder of training items, or "hub"
    train_size: int | None = None
    test_pool: bool = True
    edition: str = "2024"  # the course edition: "2024" (pricer) or "2025" (items_lite/full)
    split: str = "test"  # "validation": score items held out of the training pool (tuning)
    validation_size: int = 400  # how many pool items split=validation scores
    validation_seed: int = 42  # which ones


SCHEMAS: dict[str, type] = {"data": DataConfig}


def register() -> None:
    """Store every schema as ``schema/<group>`` in Hydra's ConfigStore (again is harmless)."""
    from hydra.core.config_store import ConfigStore

    store = ConfigStore.instance()
    for group, schema in SCHEMAS.items():
        store.store(group=SCHEMA_GROUP, name=group, node=schema)
