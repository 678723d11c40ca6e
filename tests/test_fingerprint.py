"""The fingerprint names the item set by every text and every price, in order, whatever
``CANONICAL_FINGERPRINT`` is regenerated to: a run on other prices is never taken as canonical."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from harness.data import CANONICAL_FINGERPRINT, Item, fingerprint, load_dataset


def _items() -> list[Item]:
    return [
        Item(index=i, title=f"item {i}", price=price, text=f"About item {i}.\n\nPrice is $")
        for i, price in enumerate((374.41, 225.11, 61.68))
    ]


def test_one_price_changed_changes_the_fingerprint() -> None:
    items = _items()
    cheaper = [*items[:1], replace(items[1], price=225.10), *items[2:]]
    assert [i.text for i in cheaper] == [i.text for i in items]  # only a price differs
    assert fingerprint(cheaper) != fingerprint(items)


@pytest.mark.parametrize("position", [0, 1, 2])
def test_the_price_at_every_position_counts(position: int) -> None:
    items = _items()
    changed = list(items)
    changed[position] = replace(items[position], price=items[position].price + 1)
    assert fingerprint(changed) != fingerprint(items)


def test_text_and_order_count_and_how_a_price_is_spelt_does_not() -> None:
    items = _items()
    assert fingerprint([replace(items[0], text=items[0].text + " "), *items[1:]]) != fingerprint(
        items
    )
    assert fingerprint(list(reversed(items))) != fingerprint(items)
    whole = [replace(item, price=float(round(item.price))) for item in items]
    as_int = [replace(item, price=int(round(item.price))) for item in items]
    assert fingerprint(whole) == fingerprint(as_int)  # 374 and 374.0 are one price


def test_the_fixed_set_with_one_price_changed_is_not_canonical(
    data_dir: Path, tmp_path: Path
) -> None:
    lines = (data_dir / "test.jsonl").read_text().splitlines()[:250]
    row = json.loads(lines[100])
    row["price"] = round(row["price"] + 0.01, 2)
    lines[100] = json.dumps(row)
    (tmp_path / "test.jsonl").write_text("\n".join(lines) + "\n")
    assert load_dataset(str(data_dir), need_train=False).fingerprint == CANONICAL_FINGERPRINT
    changed = load_dataset(str(tmp_path), need_train=False)
    assert changed.fingerprint != CANONICAL_FINGERPRINT and changed.canonical is False
