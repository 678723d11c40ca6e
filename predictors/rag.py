"""``rag``: the course's week-8 frontier pricer. A chat model is asked for the price with the
``k`` most similar *training* items and their prices in the prompt, as ed-donner/llm_engineering
``week8/agents/frontier_agent.py`` (``make_context``, ``messages_for``) and ``week8/day2.3.ipynb``
do: "To provide some context, here are some other items that might be similar to the item you
need to estimate." then each similar item's description and ``Price is $X.XX``, then "And now the
question for you:" and the item's own prompt.

It is a :class:`~predictors.llm.ChatPricer` (concurrency, response cache, cost guard, Batch API,
retries are the same); ``fit`` keeps the training pool and builds (or loads) the retrieval index
(:mod:`predictors.retrieval`). A retrieved example is never an item being predicted: training
items with the same text, title or description as one, or whose description holds one's title,
are left out before ranking.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, Literal

from harness.data import Item
from harness.errors import PricebenchError
from harness.predictor import Prediction, check_fitted
from predictors import retrieval
from predictors.llm import ChatPricer
from predictors.prompts import check_template

Retrieval = Literal["tfidf", "embeddings"]
RETRIEVALS = ("tfidf", "embeddings")

# The course's wording (frontier_agent.py's make_context and messages_for).
CONTEXT_TEMPLATE = (
    "To provide some context, here are some other items that might be similar to the item you "
    "need to estimate.\n\n{examples}And now the question for you:\n\n{question}"
)
EXAMPLE_TEMPLATE = "Potentially related product:\n{description}\nPrice is {price}\n\n"
CONTEXT_FIELDS = ("examples", "question")
EXAMPLE_FIELDS = ("description", "title", "category", "price")


class RagPricer(ChatPricer):
    """A chat pricer whose prompt carries the ``k`` training items most similar to the item
    (``retrieval``: ``tfidf``, offline, or ``embeddings`` from an OpenAI-compatible endpoint),
    each as ``example_template`` says, placed by ``context_template`` around the item's own
    prompt (``user_template``). Every other setting is :class:`ChatPricer`'s."""

    requires_fit = True  # type: ignore[assignment]

    def __init__(
        self,
        k: int = 5,
        retrieval: Retrieval = "tfidf",
        context_template: str = CONTEXT_TEMPLATE,
        example_template: str = EXAMPLE_TEMPLATE,
        tfidf_ngrams: int = 2,
        embedding_model: str = "text-embedding-3-small",
        embedding_base_url: str | None = None,
        embedding_api_key_env: str | None = None,
        embedding_dimensions: int | None = None,
        embedding_batch_size: int = 256,
        embedding_price: float = 0.02,
        **chat: Any,
    ) -> None:
        super().__init__(**chat)
        self.k = k
        self.retrieval = retrieval
        self.context_template = context_template
        self.example_template = example_template
        self.tfidf_ngrams = tfidf_ngrams
        self.embedding_model = embedding_model
        self.embedding_base_url = embedding_base_url
        self.embedding_api_key_env = embedding_api_key_env
        self.embedding_dimensions = embedding_dimensions
        self.embedding_batch_size = embedding_batch_size
        self.embedding_price = embedding_price

    # --- settings --------------------------------------------------------------------------

    def _check(self) -> None:
        super()._check()
        self._check_retrieval()

    def _check_retrieval(self) -> None:
        from harness.config_check import check_instance

        # Every setting's type and range (harness.config_check.RANGES), as when composed.
        check_instance(self)
        if self.retrieval not in RETRIEVALS:
            raise PricebenchError(
                f"predictor.retrieval must be one of {', '.join(RETRIEVALS)}, got "
                f"{self.retrieval!r}"
            )
        check_template(
            self.context_template, "predictor.context_template", CONTEXT_FIELDS, CONTEXT_FIELDS
        )
        check_template(self.example_template, "predictor.example_template", EXAMPLE_FIELDS)
        if self.retrieval == "embeddings" and not str(self.embedding_model or "").strip():
            raise PricebenchError(
                "predictor.retrieval=embeddings needs predictor.embedding_model (e.g. "
                "text-embedding-3-small)"
            )

    # --- fitting: the pool and its index -----------------------------------------------------

    def fit(self, train_items: Sequence[Item]) -> RagPricer:
        """Keep the training pool and build its retrieval index, or load it from the cache
        folder when this pool was indexed with these settings before."""
        self._check_retrieval()
        pool = list(train_items)
        if not pool:
            raise PricebenchError(
                "rag retrieves similar training items and was given none; set data.train_path "
                "to a file of training items"
            )
        if len(pool) < self.k:
            raise PricebenchError(
                f"predictor.k={self.k} but the training pool holds only {len(pool)} item(s); "
                f"lower predictor.k to at most {len(pool)}"
            )
        self.embedder_: retrieval.Embedder | None = None
        self.pool_ = pool
        self.documents_ = [retrieval.document(item) for item in pool]
        settings = self._index_settings()
        key = retrieval.index_key(pool, self.documents_, settings)
        path = (
            retrieval.index_path(self.cache_dir or "~/.cache/pricebench", self.retrieval, key)
            if self.cache_enabled
            else None
        )
        if self.retrieval == "tfidf":
            ngrams = int(self.tfidf_ngrams)
            index, status = retrieval.load_or_build(
                path,
                lambda: retrieval.TfidfIndex.build(self.documents_, ngrams),
                retrieval.TfidfIndex.from_arrays,
                self._say,
            )
        else:
            index, status = retrieval.load_or_build(
                path,
                lambda: retrieval.VectorIndex.build(self._embedder().embed(self.documents_)),
                retrieval.VectorIndex.from_arrays,
                self._say,
            )
        self.index_: Any = index
        self.index_status_ = status
        self.index_path_ = path
        return self

    def _index_settings(self) -> dict[str, Any]:
        if self.retrieval == "tfidf":
            return {"method": "tfidf", "ngrams": int(self.tfidf_ngrams)}
        return {
            "method": "embeddings",
            "base_url": self._embedding_base_url(),
            "model": self.embedding_model,
            "dimensions": self.embedding_dimensions,
        }

    def _embedding_base_url(self) -> str:
        return (self.embedding_base_url or self.resolved_base_url).rstrip("/")

    def _embedder(self) -> retrieval.Embedder:
        if getattr(self, "embedder_", None) is None:
            from openai import OpenAI

            from harness.cache import ResponseCache
            from harness.secrets import api_key_from_env

            client = OpenAI(
                api_key=api_key_from_env(self.embedding_api_key_env or self.api_key_env),
                base_url=self._embedding_base_url(),
                timeout=self.timeout,
                max_retries=self.max_retries,
            )
            cache = ResponseCache(self.cache_dir or "~/.cache/pricebench", self.cache_enabled)
            self.embedder_ = retrieval.Embedder(
                client,
                self._embedding_base_url(),
                str(self.embedding_model),
                self.embedding_dimensions,
                int(self.embedding_batch_size),
                cache,
            )
        assert self.embedder_ is not None
        return self.embedder_

    # --- predicting --------------------------------------------------------------------------

    def predict_iter(self, items: Sequence[Item]) -> Iterator[tuple[int, Prediction]]:
        """Find every item's examples first (leaving out training items that are items being
        predicted), then ask the chat model, as :class:`ChatPricer` does."""
        check_fitted(self, "index_", name="rag")
        self._check()
        self.excluded_ = retrieval.excluded_rows(self.pool_, self.documents_, items)
        self.examples_ = {}
        for item, rows in zip(items, self._neighbours(items), strict=True):
            self.examples_[id(item)] = rows
        try:
            yield from super().predict_iter(items)
        finally:
            if self.embedder_ is not None:
                self.embedder_.cache.close()

    def _neighbours(self, items: Sequence[Item]) -> list[list[int]]:
        queries = [retrieval.document(item) for item in items]
        if isinstance(self.index_, retrieval.TfidfIndex):
            matrix = self.index_.transform(queries)
        else:
            matrix = retrieval.unit_rows(self._embedder().embed(queries))
        excluded = getattr(self, "excluded_", None)
        return retrieval.nearest(matrix, self.index_.matrix, int(self.k), excluded)

    def example_rows(self, item: Item) -> list[int]:
        """The rows of the training pool shown with ``item``, most similar first."""
        rows = getattr(self, "examples_", {}).get(id(item))
        if rows is None:  # an item predict_iter was not given: found now, itself left out
            check_fitted(self, "index_", name="rag")
            self.excluded_ = retrieval.excluded_rows(self.pool_, self.documents_, [item])
            rows = self._neighbours([item])[0]
        return list(rows)

    def request_body(self, item: Item, model: str) -> dict[str, Any]:
        """:class:`ChatPricer`'s request with the examples placed around the user message."""
        body = super().request_body(item, model)
        examples = "".join(
            self.example_template.format(
                description=self.documents_[row],
                title=self.pool_[row].title,
                category=self.pool_[row].category or "",
                price=f"${self.pool_[row].price:.2f}",
            )
            for row in self.example_rows(item)
        )
        for message in body["messages"]:
            if message["role"] == "user":
                message["content"] = self.context_template.format(
                    examples=examples, question=message["content"]
                )
        return body

    # --- reporting ---------------------------------------------------------------------------

    def run_summary(self) -> dict[str, Any]:
        summary = super().run_summary()
        summary["retrieval"] = self.retrieval
        summary["retrieval_k"] = int(self.k)
        summary["retrieval_index"] = getattr(self, "index_status_", None)
        path = getattr(self, "index_path_", None)
        summary["retrieval_index_path"] = str(path) if path is not None else None
        summary["retrieval_pool"] = len(getattr(self, "pool_", []))
        excluded = getattr(self, "excluded_", None)
        summary["retrieval_excluded"] = int(excluded.sum()) if excluded is not None else 0
        embedder = getattr(self, "embedder_", None)
        if embedder is not None:
            stats = embedder.stats
            summary["embedding_requests"] = stats["requests"]
            summary["embedding_tokens"] = stats["tokens"]
            summary["embedding_cache_hits"] = stats["cache_hits"]
            summary["embedding_cost"] = stats["tokens"] * float(self.embedding_price) / 1e6
        return summary

    def notes(self) -> list[str]:
        notes = super().notes()
        if getattr(self, "index_status_", None) is None:
            return notes
        how = "TF-IDF" if self.retrieval == "tfidf" else f"{self.embedding_model} embeddings"
        where = f" ({self.index_path_})" if self.index_path_ is not None else " (not stored)"
        line = (
            f"retrieval: the {self.k} most similar of {len(self.pool_):,} training items by "
            f"{how}, index {self.index_status_}{where}"
        )
        excluded = getattr(self, "excluded_", None)
        if excluded is not None and excluded.any():
            line += f"; {int(excluded.sum())} training item(s) left out as copies of test items"
        embedder = getattr(self, "embedder_", None)
        if embedder is not None:
            stats = embedder.stats
            cost = stats["tokens"] * float(self.embedding_price) / 1e6
            line += (
                f"; {stats['requests']} embeddings request(s), {stats['tokens']:,} tokens, "
                f"${cost:.4f}, {stats['cache_hits']} text(s) from the cache"
            )
        notes.append(line)
        return notes
