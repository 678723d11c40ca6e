"""The ``rag`` predictor (the course's week-8 frontier pricer): retrieval of similar training
items (TF-IDF, or embeddings from an OpenAI-compatible endpoint), the examples in the prompt,
the exclusion of test items, the retrieval index kept on disk, bad settings in one line, and one
end-to-end run of ``pricebench predictor=rag`` on the canonical 250 against a loopback server."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from harness.data import PRICE_PREFIX, QUESTION, Item, load_dataset
from harness.errors import PricebenchError
from predictors import retrieval
from predictors.rag import RagPricer
from tests.conftest import DATA_DIR
from tests.llm_helpers import KEY, latest_metrics, run_llm
from tests.openai_server import FakeOpenAI, Reply

INTRO = (
    "To provide some context, here are some other items that might be similar to the item you "
    "need to estimate.\n\n"
)
QUESTION_INTRO = "And now the question for you:\n\n"


def item(index: int, title: str, body: str, price: float = 10.0) -> Item:
    """An item in the 2024 schema: its text is the course's test prompt."""
    text = f"{QUESTION}\n\n{title}\n{body}\n\n{PRICE_PREFIX}"
    return Item(index=index, title=title, price=price, text=text, category="Things")


POOL = [
    item(0, "Red leather wallet", "A red leather wallet with coin pocket", 25.0),
    item(1, "Steel kitchen knife", "Chef knife of forged steel, eight inch blade", 60.0),
    item(2, "Blue cotton shirt", "A blue cotton shirt with long sleeves", 30.0),
    item(3, "Garden hose", "Fifty foot rubber garden hose with brass fittings", 45.0),
    item(4, "Leather belt", "Brown leather belt with steel buckle", 35.0),
    item(5, "Ceramic coffee mug", "White ceramic coffee mug, twelve ounces", 12.0),
]


def pricer(tmp_path: Path, base_url: str = "http://127.0.0.1:9/v1", **settings) -> RagPricer:
    return RagPricer(
        **{"base_url": base_url, "cache_dir": str(tmp_path / "cache"), "quiet": True, **settings}
    )


# --- retrieval ---------------------------------------------------------------------------------


def test_the_document_is_the_course_description() -> None:
    # week8 day2.0: prompt.replace("How much does this cost to the nearest dollar?\n\n", "")
    # .split("\n\nPrice is $")[0]
    wanted = "Red leather wallet\nA red leather wallet with coin pocket"
    assert retrieval.document(POOL[0]) == wanted


@pytest.mark.parametrize("ngrams", [1, 2])
def test_tfidf_neighbours_are_exactly_scikit_learns_cosine_ranking(ngrams: int) -> None:
    documents = [retrieval.document(i) for i in POOL]
    queries = ["brown leather wallet", "steel knife blade", "cotton shirt, blue", "mug of coffee"]
    index = retrieval.TfidfIndex.build(documents, ngrams)
    oracle = TfidfVectorizer(ngram_range=(1, ngrams), sublinear_tf=True).fit(documents)
    pool, asked = oracle.transform(documents), oracle.transform(queries)
    assert set(index.vocabulary) == set(oracle.vocabulary_)  # the same terms, and weights:
    columns = [oracle.vocabulary_[t] for t in sorted(index.vocabulary, key=index.vocabulary.get)]
    assert np.allclose(index.matrix.toarray(), pool.toarray()[:, columns])
    scores = (asked @ pool.T).toarray()
    expected = [list(np.argsort(-row, kind="stable")[:3]) for row in scores]
    assert retrieval.nearest(index.transform(queries), index.matrix, 3) == expected
    assert [rows[0] for rows in expected] == [0, 1, 2, 5]  # and they are the obvious ones


def test_nearest_breaks_ties_by_pool_order_and_never_returns_an_excluded_row() -> None:
    pool = retrieval.unit_rows(np.array([[1, 0], [1, 0], [0, 1], [1, 1]], dtype=float))
    query = retrieval.unit_rows(np.array([[1, 0]], dtype=float))
    assert retrieval.nearest(query, pool, 3) == [[0, 1, 3]]
    excluded = np.array([True, False, False, False])
    assert retrieval.nearest(query, pool, 3, excluded) == [[1, 3, 2]]
    assert retrieval.nearest(query, pool, 9, np.array([True, True, True, False])) == [[3]]


def test_training_items_that_are_items_being_predicted_are_excluded() -> None:
    test = [item(100, "Acme Widget Pro 3000", "The best widget for the price")]
    pool = [
        item(0, "Acme Widget Pro 3000", "Another listing, other words"),  # same title
        item(1, "A widget", "Compatible with the ACME   widget pro 3000 and more"),  # holds it
        item(2, "Other", "The best widget for the price"),  # different title
        Item(3, "x", 1.0, test[0].text),  # the same text
        item(4, "Widget stand", "A stand for widgets"),
    ]
    documents = [retrieval.document(i) for i in pool]
    assert retrieval.excluded_rows(pool, documents, test).tolist() == [1, 1, 0, 1, 0]
    same_description = item(5, "Another title", "The best widget for the price")
    assert retrieval.excluded_rows(
        [same_description],
        [retrieval.document(same_description)],
        [item(6, "Another title!", "The best widget for the price")],
    ).tolist() == [False]  # a different title and body: kept
    pool.append(item(7, "Acme Widget Pro 3000", "The best widget for the price"))
    documents.append(retrieval.document(pool[-1]))
    assert retrieval.excluded_rows(pool, documents, test)[-1]  # the same description


# --- the prompt --------------------------------------------------------------------------------


def test_the_prompt_carries_k_examples_with_prices_in_the_courses_words(tmp_path: Path) -> None:
    rag = pricer(tmp_path, k=2).fit(POOL)
    asked = item(9, "Black leather wallet", "A black leather wallet, slim")
    body = rag.request_body(asked, "gpt-4o-mini")
    system, user, prefill = body["messages"]
    assert system == {
        "role": "system",
        "content": "You estimate prices of items. Reply only with the price, no explanation",
    }
    assert prefill == {"role": "assistant", "content": "Price is $"}
    assert user["content"] == (
        INTRO + "Potentially related product:\nRed leather wallet\nA red leather wallet with coin "
        "pocket\nPrice is $25.00\n\n"
        + "Potentially related product:\nLeather belt\nBrown leather belt with steel buckle\n"
        "Price is $35.00\n\n"
        + QUESTION_INTRO
        + "How much does this cost?\n\nBlack leather wallet\nA black leather wallet, slim"
    )
    assert (body["max_tokens"], body["seed"]) == (5, 42)


def test_the_templates_are_configurable(tmp_path: Path) -> None:
    rag = pricer(
        tmp_path,
        k=1,
        context_template="{examples}Q: {question}",
        example_template="{title} ({category}) costs {price}. ",
    ).fit(POOL)
    content = rag.request_body(item(9, "Garden hose reel", "A reel"), "m")["messages"][1]
    assert content["content"] == (
        "Garden hose (Things) costs $45.00. Q: How much does this cost?\n\nGarden hose reel\nA reel"
    )


# --- exclusion through the chat machinery ------------------------------------------------------


def test_no_request_carries_an_item_being_predicted(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    test = [
        item(100, "Red leather wallet deluxe", "A red leather wallet with coin pocket, deluxe"),
        item(101, "Steel kitchen knife set", "Forged steel chef knife set"),
    ]
    pool = [
        *POOL,
        item(10, "Red leather wallet deluxe", "Same product, other listing text"),
        item(11, "Knife block", "Holds the Steel kitchen knife set of forged steel knives"),
    ]
    documents = [retrieval.document(i) for i in pool]
    unguarded = retrieval.TfidfIndex.build(documents, 2)
    first = retrieval.nearest(unguarded.transform([retrieval.document(t) for t in test]),
                              unguarded.matrix, 2)  # fmt: skip
    assert {6, 7} & {row for rows in first for row in rows}  # they would be retrieved
    with FakeOpenAI(chat=lambda body, n: Reply(text="20")) as server:
        rag = pricer(tmp_path, server.base_url, k=2).fit(pool)
        guesses = rag.predict(test)
        bodies = server.chat_requests()
    assert [g.guess for g in guesses] == [20.0, 20.0] and len(bodies) == 2
    for body in bodies:
        examples = body["messages"][1]["content"].split(QUESTION_INTRO)[0]
        assert examples.count("Potentially related product:") == 2
        for other in test:
            assert other.title.casefold() not in examples.casefold()
        assert "other listing text" not in examples and "Knife block" not in examples
    assert rag.run_summary()["retrieval_excluded"] == 2


# --- the index on disk -------------------------------------------------------------------------


def test_the_index_is_built_once_per_pool_and_settings_and_loaded_after(tmp_path, monkeypatch):
    built: list[int] = []
    real = retrieval.TfidfIndex.build

    def counting(documents, ngrams=2):
        built.append(ngrams)
        return real(documents, ngrams)

    monkeypatch.setattr(retrieval.TfidfIndex, "build", staticmethod(counting))
    first = pricer(tmp_path).fit(POOL)
    assert (first.index_status_, built) == ("built", [2]) and first.index_path_.is_file()
    assert first.index_path_.parent == tmp_path / "cache" / "rag"
    again = pricer(tmp_path, k=3).fit(POOL)  # k is not part of the index
    assert (again.index_status_, again.index_path_, built) == ("loaded", first.index_path_, [2])
    assert np.array_equal(again.index_.matrix.toarray(), first.index_.matrix.toarray())
    assert again.index_.vocabulary == first.index_.vocabulary
    unigrams = pricer(tmp_path, tfidf_ngrams=1).fit(POOL)
    assert unigrams.index_status_ == "built" and unigrams.index_path_ != first.index_path_
    repriced = [*POOL[:-1], item(5, POOL[5].title, "White ceramic coffee mug, twelve ounces", 13)]
    other_pool = pricer(tmp_path).fit(repriced)  # another pool fingerprint
    assert other_pool.index_status_ == "built" and other_pool.index_path_ != first.index_path_
    assert built == [2, 1, 2] and len(list((tmp_path / "cache" / "rag").iterdir())) == 3
    memory = pricer(tmp_path / "none", cache_enabled=False).fit(POOL)
    assert memory.index_path_ is None and not (tmp_path / "none").exists()


def test_an_unreadable_index_file_is_said_rebuilt_and_replaced(tmp_path, capsys) -> None:
    path = pricer(tmp_path).fit(POOL).index_path_
    path.write_bytes(b"not an npz file")
    said: list[str] = []
    rag = pricer(tmp_path)
    rag._say = said.append  # type: ignore[method-assign]
    assert rag.fit(POOL).index_status_ == "built"
    assert len(said) == 1 and said[0].startswith(f"warning: the retrieval index {path} cannot")
    assert pricer(tmp_path).fit(POOL).index_status_ == "loaded"


def test_an_index_folder_that_cannot_be_written_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(PricebenchError, match=r"^cannot write the retrieval index .*cache.dir"):
        RagPricer(cache_dir=str(tmp_path / "file" / "cache")).fit(POOL)


# --- embeddings --------------------------------------------------------------------------------


def test_embeddings_from_the_endpoint_are_cached(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    test = [item(100, "Brown leather wallet", "A brown leather wallet")]
    with FakeOpenAI(chat=lambda body, n: Reply(text="22")) as server:
        settings = {"retrieval": "embeddings", "k": 2, "embedding_batch_size": 4}
        first = pricer(tmp_path, server.base_url, **settings).fit(POOL)
        assert first.predict(test)[0].guess == 22.0
        requests = server.embedding_requests()
        assert [len(r["input"]) for r in requests] == [4, 2, 1]  # the pool in 2, then the item
        assert {r["model"] for r in requests} == {"text-embedding-3-small"}
        summary = first.run_summary()
        assert (summary["retrieval_index"], summary["embedding_requests"]) == ("built", 3)
        assert summary["embedding_cost"] == pytest.approx(summary["embedding_tokens"] * 0.02e-6)
        examples = server.chat_requests()[0]["messages"][1]["content"].split(QUESTION_INTRO)[0]
        assert examples.count("Potentially related product:") == 2
        assert "Red leather wallet" in examples  # the nearest by the words they share

        second = pricer(tmp_path, server.base_url, **settings).fit(POOL)
        assert second.predict(test)[0].guess == 22.0
        assert len(server.embedding_requests()) == 3  # no embedding requested again
        assert len(server.chat_requests()) == 1  # and the chat reply came from the cache
        again = second.run_summary()
        assert (again["retrieval_index"], again["embedding_requests"]) == ("loaded", 0)
        assert again["embedding_cache_hits"] == 1 and again["cache_hits"] == 1


def test_a_failing_embeddings_endpoint_is_one_line(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    with FakeOpenAI() as server:
        rag = pricer(tmp_path, server.base_url, retrieval="embeddings", embedding_model="",
                     max_retries=0)  # fmt: skip
        with pytest.raises(PricebenchError, match="needs predictor.embedding_model"):
            rag.fit(POOL)
        rag = pricer(tmp_path, server.base_url + "/nope", retrieval="embeddings", max_retries=0)
        with pytest.raises(PricebenchError) as caught:
            rag.fit(POOL)
    assert str(caught.value).startswith("embeddings request to http://127.0.0.1:")
    assert "predictor.embedding_base_url" in str(caught.value) and "\n" not in str(caught.value)


# --- bad settings ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "pool", "line"),
    [
        ({"k": 0}, POOL, "predictor.k must be an integer ≥ 1, got 0"),
        ({"retrieval": "bm25"}, POOL, "predictor.retrieval must be one of tfidf, embeddings, got "
         "'bm25'"),
        ({"tfidf_ngrams": 0}, POOL, "predictor.tfidf_ngrams must be an integer ≥ 1 and ≤ 5, got 0"),
        ({"embedding_batch_size": 0}, POOL, "predictor.embedding_batch_size must be an integer ≥ 1 "
         "and ≤ 2048, got 0"),
        ({}, [], "rag retrieves similar training items and was given none; set data.train_path "
         "to a file of training items"),
        ({"k": 9}, POOL, "predictor.k=9 but the training pool holds only 6 item(s); lower "
         "predictor.k to at most 6"),
        ({"context_template": "{question}"}, POOL, "predictor.context_template '{question}' does "
         "not use {examples}; it may use {examples}, {question} (and {{ }} for literal braces), "
         "and must use {examples}, {question}"),
        ({"example_template": "{name} {price}"}, POOL, "predictor.example_template '{name} "
         "{price}' uses an unknown field, {name}; it may use {description}, {title}, {category}, "
         "{price} (and {{ }} for literal braces)"),
    ],
)  # fmt: skip
def test_bad_settings_are_one_line(tmp_path: Path, settings: dict, pool: list, line: str) -> None:
    with pytest.raises(PricebenchError) as caught:
        pricer(tmp_path, **settings).fit(pool)
    assert str(caught.value) == line
    assert not (tmp_path / "cache").exists()  # nothing built


def test_predicting_before_fitting_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(PricebenchError, match="^rag was not fitted: call fit"):
        pricer(tmp_path).predict(POOL[:1])


# --- end to end --------------------------------------------------------------------------------


@pytest.mark.slow
def test_rag_on_the_canonical_250_sends_250_clean_requests_and_a_rerun_is_all_cache(
    tmp_path: Path,
) -> None:
    test = load_dataset(str(DATA_DIR), need_train=False).test
    forbidden = [(t.title, retrieval.document(t)) for t in test]
    lock = threading.Lock()
    flight = {"now": 0, "peak": 0}

    def answer(body: dict, n: int) -> Reply:
        with lock:
            flight["now"] += 1
            flight["peak"] = max(flight["peak"], flight["now"])
        time.sleep(0.004)  # long enough for the requests to overlap
        with lock:
            flight["now"] -= 1
        return Reply(text="99")

    with FakeOpenAI(chat=answer) as server:
        first = run_llm(tmp_path, server.base_url, "predictor.concurrency=4", predictor="rag")
        assert first.returncode == 0, first.stderr
        bodies = server.chat_requests()
        assert len(bodies) == 250 and flight["peak"] == 4
        for body in bodies:
            user = body["messages"][1]["content"]
            examples, _, question = user.partition(QUESTION_INTRO)
            assert examples.startswith(INTRO)
            assert examples.count("Potentially related product:") == 5
            assert len([x for x in examples.split("\n") if x.startswith("Price is $")]) == 5
            for title, description in forbidden:  # no item of the fixed test set, itself or not
                assert title not in examples and description not in examples
        asked = {b["messages"][1]["content"].partition(QUESTION_INTRO)[2] for b in bodies}
        assert len(asked) == 250  # each item asked once
        metrics = latest_metrics(tmp_path)
        assert (metrics["requests"], metrics["cache_hits"], metrics["failed"]) == (250, 0, 0)
        assert metrics["cost"] == pytest.approx(250 * (100 * 0.15 + 2 * 0.60) / 1e6)
        assert (metrics["retrieval"], metrics["retrieval_k"]) == ("tfidf", 5)
        assert (metrics["retrieval_index"], metrics["retrieval_pool"]) == ("built", 1999)
        assert metrics["concurrency_final"] == 4

        second = run_llm(tmp_path, server.base_url, "predictor.concurrency=4", predictor="rag")
        assert second.returncode == 0, second.stderr
        assert len(server.chat_requests()) == 250  # nothing new reached the server
    again = latest_metrics(tmp_path)
    assert (again["requests"], again["cache_hits"], again["cost"]) == (0, 250, 0.0)
    assert again["retrieval_index"] == "loaded"
    assert again["retrieval_index_path"] == metrics["retrieval_index_path"]
    assert first.stdout.splitlines()[-2] == second.stdout.splitlines()[-2]  # the same scores
