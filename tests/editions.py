"""Small datasets in the 2025 edition's schema, built on the fly from the course's real items.

The 2025 edition of the course (ed-donner/llm_engineering, ``week6/pricer/items.py``) stores rows
with ``title, category, price, full, weight, summary, prompt, id``; its ``Item.make_prompt`` builds
the *training* prompt as ``f"{QUESTION}\\n\\n{text}\\n\\n{PREFIX}{round(self.price)}.00"`` with
``QUESTION = "What does this cost to the nearest dollar?"`` and ``PREFIX = "Price is $"``, the text
being the item's ``summary``; its ``test_prompt()`` is ``prompt.split(PREFIX)[0] + PREFIX``.

:func:`write_items_2025` makes such rows from the real items of ``../shared/data/pricer``
(``test.jsonl`` for the test split, ``train_sample.jsonl`` for the train split), read there and
written into a temporary folder (never into the repository). Nothing is downloaded.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "pricer"  # as tests/conftest.py

QUESTION_2025 = "What does this cost to the nearest dollar?"
PREFIX = "Price is $"
QUESTION_2024 = "How much does this cost to the nearest dollar?"
COLUMNS = ("title", "category", "price", "full", "weight", "summary", "prompt", "id")


def _body(text: str) -> str:
    """The description inside a 2024 test prompt: without the question and ``Price is $``."""
    body = text.split(QUESTION_2024, 1)[1] if QUESTION_2024 in text else text
    body = body.split(PREFIX, 1)[0]
    return body.strip()


def _weight(details: Any) -> float | None:
    """The item's weight in pounds from its details (``"19.3 pounds"``), else None."""
    if not isinstance(details, dict):
        return None
    value = details.get("Item Weight")
    if not isinstance(value, str):
        return None
    match = re.match(r"\s*([0-9]*\.?[0-9]+)\s*(pounds?|ounces?)", value, re.IGNORECASE)
    if not match:
        return None
    amount = float(match.group(1))
    return amount / 16 if match.group(2).lower().startswith("ounce") else amount


def training_prompt(summary: str, price: float) -> str:
    """The 2025 edition's ``Item.make_prompt(summary)``: the answer, the rounded price, ``.00``."""
    return f"{QUESTION_2025}\n\n{summary}\n\n{PREFIX}{round(price)}.00"


def rows_2025(source: Path, n: int, first_id: int = 0) -> list[dict[str, Any]]:
    """The first ``n`` items of a pricebench JSONL file as 2025-schema rows."""
    rows: list[dict[str, Any]] = []
    with source.open(encoding="utf-8") as handle:
        for line in handle:
            if len(rows) >= n:
                break
            if not line.strip():
                continue
            item = json.loads(line)
            summary = _body(item["text"])
            price = float(item["price"])
            rows.append(
                {
                    "title": item["title"],
                    "category": item.get("category") or "Unknown",
                    "price": price,
                    "full": f"{item['title']}\n{summary}",
                    "weight": _weight(item.get("details")),
                    "summary": summary,
                    "prompt": training_prompt(summary, price),
                    "id": first_id + len(rows),
                }
            )
    if len(rows) < n:
        raise ValueError(f"{source} holds only {len(rows)} items, {n} asked")
    return rows


def write_rows(rows: list[dict[str, Any]], path: Path, fmt: str) -> Path:
    """Write 2025-schema rows to ``path`` as JSONL or parquet (pyarrow)."""
    if fmt == "jsonl":
        with path.open("w", encoding="utf-8") as handle:
            for row in rows:
                handle.write(json.dumps(row) + "\n")
    elif fmt == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        schema = pa.schema(
            [
                ("title", pa.string()),
                ("category", pa.string()),
                ("price", pa.float64()),
                ("full", pa.string()),
                ("weight", pa.float64()),
                ("summary", pa.string()),
                ("prompt", pa.string()),
                ("id", pa.int64()),
            ]
        )
        pq.write_table(pa.Table.from_pylist(rows, schema=schema), path)
    else:
        raise ValueError(f"fmt must be 'jsonl' or 'parquet', not {fmt!r}")
    return path


def write_items_2025(
    folder: Path, n_test: int = 200, n_train: int = 50, fmt: str = "jsonl"
) -> Path:
    """Write ``test.<fmt>`` (the first ``n_test`` real test items) and ``train.<fmt>`` (the first
    ``n_train`` items of the real training sample) in the 2025 schema into ``folder``; return it."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    suffix = {"jsonl": "jsonl", "parquet": "parquet"}.get(fmt)
    if suffix is None:
        raise ValueError(f"fmt must be 'jsonl' or 'parquet', not {fmt!r}")
    write_rows(rows_2025(DATA / "test.jsonl", n_test), folder / f"test.{suffix}", fmt)
    train = rows_2025(DATA / "train_sample.jsonl", n_train, first_id=100_000)
    write_rows(train, folder / f"train.{suffix}", fmt)
    return folder
