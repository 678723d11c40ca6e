"""Retrieval for the ``rag`` predictor: the training items most similar to an item, exactly.

Two ways to compare items, over the course's product descriptions (:func:`document`):

- ``tfidf`` (offline): words and word n-grams, sublinear term frequency, smoothed idf, rows
  scaled to length 1, so a dot product is the cosine similarity (:class:`TfidfIndex`);
- ``embeddings``: vectors from an OpenAI-compatible ``/v1/embeddings`` endpoint
  (:class:`Embedder`), each one kept in the response cache, so a text is embedded once.

An index is built once for a training pool and kept on disk (:func:`load_or_build`), keyed by the
pool's fingerprint and the retrieval settings; :func:`nearest` ranks every training item for each
query (ties by pool order) and never returns one that :func:`excluded_rows` marks.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from harness.data import PRICE_PREFIX, QUESTION, Item, fingerprint
from harness.errors import PricebenchError, first_line

INDEX_VERSION = 1  # bump when what an index file holds changes: old files are then rebuilt
INDEX_FOLDER = "rag"  # under the response cache's folder
_TOKEN = re.compile(r"(?u)\b\w\w+\b")  # scikit-learn's default token_pattern
_SPACE = re.compile(r"\s+")
# Similarity rows computed at once: queries x pool kept under this many numbers (~80 MB).
_CHUNK_CELLS = 10_000_000


def document(item: Item) -> str:
    """The text an item is compared and shown by: the course's ``description(item)`` (week 8,
    ``day2.0.ipynb``): the prompt without the question and without ``Price is $`` and what follows;
    a 2025-edition item's summary as it is."""
    text = item.body.replace(QUESTION + "\n\n", "")
    return text.split("\n\n" + PRICE_PREFIX)[0].strip()


def normalised(text: str) -> str:
    """``text`` compared loosely: case folded, runs of white space as one space, trimmed."""
    return _SPACE.sub(" ", text).strip().casefold()


def excluded_rows(pool: Sequence[Item], documents: Sequence[str], items: Sequence[Item]) -> Any:
    """A boolean mask over ``pool``: True for a training item that is, or holds, an item being
    predicted: the same text, the same title, the same description, or a description containing
    the predicted item's title (all compared case-folded, white space collapsed)."""
    texts = {item.text for item in items}
    titles = {t for t in (normalised(item.title) for item in items) if t}
    bodies = {d for d in (normalised(document(item)) for item in items) if d}
    normal = [normalised(text) for text in documents]
    mask = np.array(
        [
            train.text in texts or normalised(train.title) in titles or body in bodies
            for train, body in zip(pool, normal, strict=True)
        ],
        dtype=bool,
    )
    # Every title searched for once in all descriptions joined (a title holds no NUL, so a match
    # never spans two of them): far quicker than testing each title in each description.
    joined = "\x00".join(normal)
    starts = np.cumsum([0] + [len(body) + 1 for body in normal])
    for title in titles:
        at = joined.find(title)
        while at != -1:
            row = int(np.searchsorted(starts, at, side="right")) - 1
            mask[row] = True
            at = joined.find(title, int(starts[row + 1]))
    return mask


def terms(text: str, ngrams: int) -> list[str]:
    """The words of ``text`` as scikit-learn's CountVectorizer finds them (lowercased, two or
    more word characters: ``(?u)\\b\\w\\w+\\b``) and their n-grams up to ``ngrams``, joined by
    a space as it joins them.
    https://scikit-learn.org/stable/modules/generated/sklearn.feature_extraction.text.CountVectorizer.html"""
    words = _TOKEN.findall(text.lower())
    found = list(words)
    for n in range(2, ngrams + 1):
        found.extend(map(" ".join, zip(*(words[i:] for i in range(n)), strict=False)))
    return found


def _counts(documents: Sequence[str], ngrams: int, vocabulary: dict[str, int], grow: bool) -> Any:
    """The term counts of ``documents`` (CSR, documents x vocabulary); ``grow``: new terms join
    ``vocabulary``, else they are left out."""
    rows: list[int] = []
    columns: list[int] = []
    for row, text in enumerate(documents):
        found = terms(text, ngrams)
        if grow:
            ids = [vocabulary.setdefault(term, len(vocabulary)) for term in found]
        else:
            ids = [c for c in map(vocabulary.get, found) if c is not None]
        columns.extend(ids)
        rows.extend([row] * len(ids))
    ones = np.ones(len(columns), dtype=np.float64)
    shape = (len(documents), len(vocabulary))
    counts = sp.coo_matrix((ones, (rows, columns)), shape=shape).tocsr()
    counts.sum_duplicates()
    return counts


@dataclass
class TfidfIndex:
    """TF-IDF vectors of a training pool: the vocabulary (term -> column), the idf of each
    column, and the pool's rows, each of length 1 (or 0 when it has no known term)."""

    ngrams: int
    vocabulary: dict[str, int]
    idf: Any  # float64 array, one per column
    matrix: Any  # CSR, pool x vocabulary

    @classmethod
    def build(cls, documents: Sequence[str], ngrams: int = 2) -> TfidfIndex:
        vocabulary: dict[str, int] = {}
        counts = _counts(documents, ngrams, vocabulary, grow=True)
        n = len(documents)
        # smooth_idf as scikit-learn's TfidfTransformer defines it: ln((1 + n) / (1 + df)) + 1
        # https://scikit-learn.org/stable/modules/feature_extraction.html#tfidf-term-weighting
        df = np.bincount(counts.indices, minlength=counts.shape[1]).astype(np.float64)
        idf = np.log((1.0 + n) / (1.0 + df)) + 1.0
        index = cls(ngrams, vocabulary, idf, None)
        index.matrix = index._weighted(counts)
        return index

    def transform(self, documents: Sequence[str]) -> Any:
        return self._weighted(_counts(documents, self.ngrams, self.vocabulary, grow=False))

    def _weighted(self, counts: Any) -> Any:
        """Sublinear term frequency (1 + ln count) times idf, each row scaled to length 1."""
        matrix = counts.astype(np.float64)
        matrix.data = (1.0 + np.log(matrix.data)) * self.idf[matrix.indices]
        norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
        norms[norms == 0] = 1.0
        return sp.csr_matrix(sp.diags(1.0 / norms) @ matrix)

    def arrays(self) -> dict[str, Any]:
        terms_in_order = sorted(self.vocabulary, key=self.vocabulary.__getitem__)
        return {
            "ngrams": np.array(self.ngrams),
            "terms": np.array(terms_in_order, dtype=np.str_),
            "idf": self.idf,
            "data": self.matrix.data,
            "indices": self.matrix.indices,
            "indptr": self.matrix.indptr,
            "shape": np.array(self.matrix.shape),
        }

    @classmethod
    def from_arrays(cls, found: Any) -> TfidfIndex:
        terms_in_order = [str(t) for t in found["terms"]]
        shape = tuple(int(n) for n in found["shape"])
        matrix = sp.csr_matrix((found["data"], found["indices"], found["indptr"]), shape=shape)
        vocabulary = {term: column for column, term in enumerate(terms_in_order)}
        return cls(int(found["ngrams"]), vocabulary, np.asarray(found["idf"]), matrix)


@dataclass
class VectorIndex:
    """Embedding vectors of a training pool, each scaled to length 1."""

    matrix: Any  # float32, pool x dimensions

    @classmethod
    def build(cls, vectors: Any) -> VectorIndex:
        return cls(unit_rows(vectors))

    def arrays(self) -> dict[str, Any]:
        return {"matrix": self.matrix}

    @classmethod
    def from_arrays(cls, found: Any) -> VectorIndex:
        return cls(np.asarray(found["matrix"], dtype=np.float32))


def unit_rows(vectors: Any) -> Any:
    matrix = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return matrix / norms


def nearest(queries: Any, pool: Any, k: int, excluded: Any | None = None) -> list[list[int]]:
    """For each query row, the ``k`` pool rows of highest cosine similarity (rows of length 1:
    the dot product), best first, equal ones in pool order; rows ``excluded`` marks never."""
    n_pool = pool.shape[0]
    chunk = max(1, _CHUNK_CELLS // max(1, n_pool))
    found: list[list[int]] = []
    for start in range(0, queries.shape[0], chunk):
        block = queries[start : start + chunk] @ pool.T
        scores = block.toarray() if sp.issparse(block) else np.asarray(block)
        scores = scores.astype(np.float64)
        if excluded is not None:
            scores[:, excluded] = -np.inf
        order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        for row, columns in enumerate(order):
            found.append([int(c) for c in columns if np.isfinite(scores[row, c])])
    return found


def index_key(pool: Sequence[Item], documents: Sequence[str], settings: dict[str, Any]) -> str:
    """The index's key: the pool's fingerprint (:func:`harness.data.fingerprint`), a digest of
    the descriptions indexed, the retrieval settings and :data:`INDEX_VERSION`."""
    digest = hashlib.sha256()
    for text in documents:
        digest.update(text.encode("utf-8") + b"\x00")
    payload = {
        "pool": fingerprint(pool),
        "documents": digest.hexdigest(),
        "settings": settings,
        "version": INDEX_VERSION,
    }
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def index_path(cache_dir: str | Path, method: str, key: str) -> Path:
    return Path(cache_dir).expanduser() / INDEX_FOLDER / f"{method}-{key[:32]}.npz"


def load_or_build(
    path: Path | None,
    build: Callable[[], Any],
    load: Callable[[Any], Any],
    say: Callable[[str], None],
) -> tuple[Any, str]:
    """The index stored at ``path``, else ``build()`` written there (atomically, so another
    process never reads half a file); ``path`` None: built, not stored. Returns the index and
    ``loaded`` or ``built``. A file that cannot be read is said so, rebuilt and replaced."""
    if path is not None and path.is_file():
        try:
            with np.load(path, allow_pickle=False) as found:
                return load(found), "loaded"
        except (OSError, ValueError, KeyError, TypeError, EOFError) as exc:
            say(f"warning: the retrieval index {path} cannot be read ({first_line(exc)}); rebuilt")
    index = build()
    if path is not None:
        _write(path, index.arrays())
    return index, "built"


def _write(path: Path, arrays: dict[str, Any]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=path.stem, suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(handle, "wb") as out:
                np.savez(out, **arrays)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise PricebenchError(
            f"cannot write the retrieval index {path} ({first_line(exc)}): set cache.dir=<a "
            "writable folder> or cache.enabled=false"
        ) from None


@dataclass
class Embedder:
    """Texts to vectors through an OpenAI-compatible embeddings endpoint, ``batch_size`` inputs a
    request, each vector kept in ``cache`` (a :class:`harness.cache.ResponseCache`) under the
    endpoint, model, dimensions and text, so no text is embedded twice.
    https://platform.openai.com/docs/api-reference/embeddings/create"""

    client: Any  # an openai.OpenAI
    base_url: str
    model: str
    dimensions: int | None
    batch_size: int
    cache: Any
    stats: dict[str, int] = field(
        default_factory=lambda: {"requests": 0, "tokens": 0, "cache_hits": 0, "embedded": 0}
    )

    def key(self, text: str) -> str:
        from harness.cache import ResponseCache

        request = {"embedding_input": text, "dimensions": self.dimensions}
        return ResponseCache.key(self.base_url, self.model, request)

    def embed(self, texts: Sequence[str]) -> Any:
        """One vector per text, in order (an empty text is sent as ``(no description)``: the API
        refuses empty inputs)."""
        texts = [text if text.strip() else "(no description)" for text in texts]
        vectors: dict[str, Any] = {}
        missing: list[str] = []
        for text in dict.fromkeys(texts):
            stored = self.cache.get(self.key(text))
            vector = _stored_vector(stored)
            if vector is None:
                missing.append(text)
            else:
                vectors[text] = vector
                self.stats["cache_hits"] += 1
        for start in range(0, len(missing), self.batch_size):
            batch = missing[start : start + self.batch_size]
            for text, vector in zip(batch, self._request(batch), strict=True):
                vectors[text] = vector
                packed = base64.b64encode(vector.astype("<f4").tobytes()).decode("ascii")
                self.cache.put(self.key(text), {"embedding": packed, "dimensions": len(vector)})
        sizes = {len(v) for v in vectors.values()}
        if len(sizes) > 1:
            raise PricebenchError(
                f"{self.base_url} returned embeddings of different lengths ({sorted(sizes)}) for "
                f"{self.model}; set predictor.embedding_dimensions, or clear the cached ones"
            )
        return np.array([vectors[text] for text in texts], dtype=np.float32)

    def _request(self, batch: Sequence[str]) -> list[Any]:
        import openai

        extra: dict[str, Any] = {}
        if self.dimensions is not None:
            extra["dimensions"] = self.dimensions
        try:
            response = self.client.embeddings.create(model=self.model, input=list(batch), **extra)
        except openai.APIError as exc:
            raise PricebenchError(
                f"embeddings request to {self.base_url} for {self.model} failed "
                f"({first_line(exc)}); check predictor.embedding_model and "
                "predictor.embedding_base_url, or use predictor.retrieval=tfidf"
            ) from None
        self.stats["requests"] += 1
        usage = getattr(response, "usage", None)
        self.stats["tokens"] += int(getattr(usage, "prompt_tokens", 0) or 0)
        data = sorted(getattr(response, "data", None) or [], key=lambda d: d.index)
        vectors = [np.asarray(d.embedding, dtype=np.float32) for d in data]
        if len(vectors) != len(batch) or not all(
            v.ndim == 1 and v.size and np.isfinite(v).all() for v in vectors
        ):
            raise PricebenchError(
                f"{self.base_url} answered {len(batch)} embedding inputs with {len(vectors)} "
                "usable vectors; check predictor.embedding_base_url (an OpenAI-compatible "
                "/v1/embeddings endpoint)"
            )
        self.stats["embedded"] += len(vectors)
        return vectors


def _stored_vector(entry: dict[str, Any] | None) -> Any | None:
    if not entry or not isinstance(entry.get("embedding"), str):
        return None
    try:
        vector = np.frombuffer(base64.b64decode(entry["embedding"]), dtype="<f4")
    except ValueError:
        return None
    return vector if vector.size and np.isfinite(vector).all() else None
