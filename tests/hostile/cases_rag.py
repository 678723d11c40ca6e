"""Hostile cases: the ``rag`` predictor's settings and training data (issue 15; its table lists
none, so every case is row 0). Each ends in one line before any request is sent: the endpoint is
one where nothing listens, so a case that sent a request would end in another line.

What needs a server (embeddings cached, the exclusion of test items, the rerun from the cache) is
in ``tests/test_rag.py``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from tests.hostile.cases import Case

_NOWHERE = "http://127.0.0.1:9/v1"
_KEY = {"OPENAI_API_KEY": "sk-" + "hostile-0000000000000000"}


def _rag(
    id: str,
    settings: list[str],
    expect: str,
    setup: Callable[[Path], None] | None = None,
    pattern: bool = False,
) -> Case:
    """``pricebench predictor=rag <settings>`` against an endpoint that is not there, ending in
    the line ``expect`` (a regular expression when ``pattern``)."""
    return Case(
        id=id,
        row=0,
        command="pricebench",
        args=[
            "predictor=rag",
            f"predictor.base_url={_NOWHERE}",
            "predictor.max_retries=0",
            *settings,
            "tracker=none",
            "data.size=3",
            "cache.dir={tmp}/cache",
            "results.dir={tmp}/r",
        ],  # fmt: skip
        expect="^pricebench: error: " + (expect if pattern else re.escape(expect)) + "$",
        env=_KEY,
        setup=setup,
    )


def _two_items(tmp: Path) -> None:
    lines = [
        '{"index": 0, "title": "A lamp", "price": 20.0, "text": "A lamp"}',
        '{"index": 1, "title": "A chair", "price": 40.0, "text": "A chair"}',
    ]
    (tmp / "two.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")


CASES: list[Case] = [
    _rag("rag-k-zero", ["predictor.k=0"], "predictor.k must be an integer ≥ 1, got 0"),
    _rag(
        "rag-retrieval-unknown",
        ["predictor.retrieval=bm25"],
        "predictor.retrieval must be one of tfidf, embeddings, got 'bm25'",
    ),
    _rag(
        "rag-context-template-without-examples",
        ["predictor.context_template='Q: {question}'"],
        "predictor.context_template 'Q: {question}' does not use {examples}; it may use "
        "{examples}, {question} (and {{ }} for literal braces), and must use {examples}, "
        "{question}",
    ),
    _rag(
        "rag-example-template-unknown-field",
        ["predictor.example_template='{name}: {price}'"],
        "predictor.example_template '{name}: {price}' uses an unknown field, {name}; it may use "
        "{description}, {title}, {category}, {price} (and {{ }} for literal braces)",
    ),
    _rag(
        "rag-k-above-the-pool",
        ["predictor.k=5", "data.train_path={tmp}/two.jsonl"],
        "predictor.k=5 but the training pool holds only 2 item(s); lower predictor.k to at most 2",
        setup=_two_items,
    ),
    _rag(
        "rag-training-data-missing",
        ["data.train_path={tmp}/nowhere.jsonl"],
        r"training data /\S+/nowhere\.jsonl does not exist; fix data\.train_path",
        pattern=True,
    ),
    _rag(
        "rag-embedding-batch-size-zero",
        ["predictor.embedding_batch_size=0"],
        "predictor.embedding_batch_size must be an integer ≥ 1 and ≤ 2048, got 0",
    ),
    _rag(
        "rag-embeddings-endpoint-down",
        ["predictor.retrieval=embeddings"],
        "embeddings request to http://127.0.0.1:9/v1 for text-embedding-3-small failed "
        "(APIConnectionError: Connection error.); check predictor.embedding_model and "
        "predictor.embedding_base_url, or use predictor.retrieval=tfidf",
    ),
]
