"""The 2025 edition as data: its schema read from JSONL and parquet, its test prompt cut before the
answer, its summary as the description, its fixed 200 items, its own data setting, and every
offline predictor running on it. The datasets are made on the fly from real items
(tests/editions.py); nothing is downloaded."""

from __future__ import annotations

import io
import json
import math
import re
from pathlib import Path

import pytest

from harness import results
from harness.data import (
    CANONICAL_FINGERPRINT,
    EDITION_SIZES,
    Item,
    fingerprint,
    load_dataset,
    load_items,
    resolve_test_file,
)
from harness.errors import PricebenchError
from harness.run import compose, run_config
from predictors.features import LinearFeatures
from predictors.prompts import build_messages
from tests.conftest import DATA_DIR, run_cli
from tests.editions import rows_2025, write_items_2025, write_rows

ANSWER = re.compile(r"Price is \$\s*\d")
FORMATS = ["jsonl", "parquet"]


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No hub, no 2025 data setting from the user's shell; the datasets cache under tmp."""
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.delenv("PRICEBENCH_DATA_2025", raising=False)


def _rows(folder: Path, split: str = "test") -> list[dict]:
    path = folder / f"{split}.jsonl"
    if path.is_file():
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    import pyarrow.parquet as pq

    return pq.read_table(folder / f"{split}.parquet").to_pylist()


@pytest.fixture(params=FORMATS)
def items_2025(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    return write_items_2025(tmp_path / f"items_{request.param}", fmt=request.param)


def test_the_written_rows_follow_the_editions_prompt_format(tmp_path: Path) -> None:
    folder = write_items_2025(tmp_path / "d", n_test=3, n_train=2)
    first = _rows(folder)[0]
    assert set(first) == {"title", "category", "price", "full", "weight", "summary", "prompt", "id"}
    assert first["price"] == 374.41 and first["weight"] == 19.3
    # items.py's make_prompt: QUESTION, the summary, then PREFIX and the rounded price, ".00"
    assert first["prompt"] == (
        f"What does this cost to the nearest dollar?\n\n{first['summary']}\n\nPrice is $374.00"
    )


def test_the_loader_reads_the_2025_schema_without_the_answer(items_2025: Path) -> None:
    rows = _rows(items_2025)
    dataset = load_dataset(str(items_2025), edition="2025")
    assert dataset.edition == "2025" and len(dataset.test) == EDITION_SIZES["2025"] == 200
    for item, row in zip(dataset.test, rows, strict=True):
        assert item.edition == "2025" and item.price == row["price"] and item.title == row["title"]
        assert item.text == row["prompt"].split("Price is $")[0] + "Price is $"
        assert item.text.endswith("\n\nPrice is $") and item.text.count("Price is $") == 1
        assert item.description == row["summary"] and item.body == row["summary"]
        for text in (item.text, item.description, item.title):
            assert not ANSWER.search(text), (item.index, text[-60:])
    assert [i.index for i in dataset.test] == list(range(200))
    assert dataset.fingerprint == fingerprint(dataset.test) != CANONICAL_FINGERPRINT
    assert not dataset.canonical  # no published fingerprint of the real 200 exists here
    # the training items come from the train split, without their answers either
    assert dataset.train_source.endswith(("train.jsonl", "train.parquet"))
    assert len(dataset.train) == 50
    train_rows = _rows(items_2025, "train")
    assert [i.price for i in dataset.train] == [r["price"] for r in train_rows]
    assert not any(ANSWER.search(i.text) or ANSWER.search(i.body) for i in dataset.train)


def test_jsonl_and_parquet_give_the_same_items(tmp_path: Path) -> None:
    jsonl = load_dataset(str(write_items_2025(tmp_path / "j", fmt="jsonl")), edition="2025")
    parquet = load_dataset(str(write_items_2025(tmp_path / "p", fmt="parquet")), edition="2025")
    assert jsonl.fingerprint == parquet.fingerprint
    assert [(i.text, i.description, i.extra) for i in jsonl.test] == [
        (i.text, i.description, i.extra) for i in parquet.test
    ]


def test_a_summary_that_holds_an_answer_is_cut_before_it(tmp_path: Path) -> None:
    rows = rows_2025(DATA_DIR / "test.jsonl", 2)
    rows[0]["summary"] = "A lamp.\n\nPrice is $99.00 and more"
    rows[1]["summary"] = None  # no summary: the test prompt's body is the description
    path = write_rows(rows, tmp_path / "test.jsonl", "jsonl")
    first, second = load_items(path)
    assert first.description == "A lamp."
    assert second.description == rows[1]["prompt"].split("\n\n", 1)[1].split("\n\nPrice is $")[0]
    assert not ANSWER.search(second.description)


def test_features_of_a_2025_item_hold_no_price(tmp_path: Path) -> None:
    dataset = load_dataset(str(write_items_2025(tmp_path / "d")), edition="2025")
    model = LinearFeatures().fit(dataset.train)
    item = dataset.test[0]
    weight, rank, length, brand = model.features([item])[0]
    assert (weight, length, brand) == (19.3, float(len(item.description or "")), 0.0)
    assert rank == model.default_rank_ and item.price not in (weight, rank, length)


def test_llm_messages_send_the_summary(tmp_path: Path) -> None:
    item = load_dataset(str(write_items_2025(tmp_path / "d", n_test=200)), edition="2025").test[0]
    messages = build_messages(item)
    assert messages[1] == {"role": "user", "content": item.description}
    assert messages[-1] == {"role": "assistant", "content": "Price is $"}
    prompt_only = build_messages(item, user_template="{prompt}")
    assert prompt_only[1]["content"] == item.text and not ANSWER.search(item.text)


def test_the_2025_configs_never_read_the_2024_data_setting(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PRICEBENCH_DATA", str(DATA_DIR))
    for name, hub in (
        ("items_lite", "ed-donner/items_lite"),
        ("items_full", "ed-donner/items_full"),
    ):
        data = compose([f"data={name}"]).data
        assert (data.path, data.hub, data.size, data.edition) == (None, hub, 200, "2025")
    assert compose(["data=pricer"]).data.edition == "2024"
    assert resolve_test_file(None, "2025") is None  # the hub, not PRICEBENCH_DATA
    assert resolve_test_file(None, "2024") == DATA_DIR / "test.jsonl"
    folder = write_items_2025(tmp_path / "own", n_test=200)
    monkeypatch.setenv("PRICEBENCH_DATA_2025", str(folder))
    assert compose(["data=items_lite"]).data.path == str(folder)


def test_items_lite_with_no_data_goes_to_its_own_hub_dataset_not_pricebench_data(
    tmp_path: Path,
) -> None:
    # run_cli sets PRICEBENCH_DATA to the 2024 data; the hub is offline, so nothing is downloaded
    proc = run_cli(
        "data=items_lite", "predictor=constant", f"results.dir={tmp_path}/r", cwd=tmp_path,
        env={"HF_HOME": str(tmp_path / "hf"), "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"},
    )  # fmt: skip
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    notice, error = proc.stderr.strip().splitlines()
    assert notice == (
        "no data.path or PRICEBENCH_DATA_2025: loading ed-donner/items_lite "
        "from the Hugging Face hub"
    )
    assert error.startswith("pricebench: error: could not load ed-donner/items_lite (")
    assert error.endswith(
        "set data.path=DIR or PRICEBENCH_DATA_2025=DIR to local data in the 2025 schema"
    )
    assert not (tmp_path / "r").exists() or not any((tmp_path / "r").iterdir())


def test_an_edition_and_a_schema_that_disagree_are_refused(tmp_path: Path) -> None:
    folder = write_items_2025(tmp_path / "d", n_test=200)
    with pytest.raises(PricebenchError, match="2024 edition's schema.*use data=pricer"):
        load_dataset(str(DATA_DIR), edition="2025")
    with pytest.raises(PricebenchError, match="2025 edition's schema.*use data=items_lite"):
        load_dataset(str(folder), edition="2024", size=200)
    with pytest.raises(PricebenchError, match="data.edition must be one of 2024, 2025"):
        load_dataset(str(folder), edition="2026")


def test_a_2024_run_says_edition_2024_and_old_runs_default_to_it(
    tmp_path: Path,
) -> None:
    cfg = compose(
        ["predictor=constant", "tracker=none", f"data.path={DATA_DIR}", "chart=false",
         f"results.dir={tmp_path / 'r'}", "quiet=true", "progress=false"]
    )  # fmt: skip
    result = run_config(cfg, out=io.StringIO())
    assert result.metrics["edition"] == "2024" and result.metrics["canonical"] is True
    assert results.edition_of(results.read_metrics(result.run_dir)) == "2024"
    assert results.edition_of({"error": 1.0}) == "2024"
    assert results.edition_of({"edition": "2025"}) == "2025"


def _independent_scores(prices: list[float], guess: float) -> dict[str, float]:
    n = len(prices)
    mae = math.fsum(abs(guess - p) for p in prices) / n
    mse = math.fsum((guess - p) ** 2 for p in prices) / n
    mean = math.fsum(prices) / n
    total = math.fsum((p - mean) ** 2 for p in prices)
    return {"error": mae, "mse": mse, "r2": 1 - mse * n / total}


@pytest.mark.parametrize("fmt", FORMATS)
def test_constant_120_scores_exactly_on_the_first_200(tmp_path: Path, fmt: str) -> None:
    folder = write_items_2025(tmp_path / "d", n_test=260, fmt=fmt)  # more than the fixed 200
    prices = [row["price"] for row in _rows(folder)][:200]
    expected = _independent_scores(prices, 120.0)
    # run_cli sets PRICEBENCH_DATA to the 2024 data: data=items_lite must not read it
    proc = run_cli(
        "data=items_lite", f"data.path={folder}", "predictor=constant", "predictor.value=120",
        "quiet=true", "chart=false", f"results.dir={tmp_path}/r", cwd=tmp_path,
        env={"HF_HOME": str(tmp_path / "hf"), "HF_DATASETS_OFFLINE": "1"},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    (run,) = results.finished_runs(tmp_path / "r")
    metrics = results.read_metrics(run)
    assert metrics["n"] == 200 and metrics["edition"] == "2025" and not metrics["canonical"]
    assert metrics["error"] == pytest.approx(expected["error"], rel=1e-12)
    for key in ("mse", "r2"):
        assert metrics[key] == pytest.approx(expected[key], rel=1e-12)
    line = (  # the 2025 edition's figures: error, MSE, R², hits
        f"Error=${expected['error']:,.2f} MSE={expected['mse']:,.0f} R²={expected['r2']:.1%} Hits="
    )
    assert line in proc.stdout and line in metrics["summary_line"]
    assert metrics["data_source"] == str(folder / f"test.{fmt}")
    assert "2025 edition: its first 200 test items" in proc.stdout
    assert metrics["fingerprint"] == fingerprint(load_items(folder / f"test.{fmt}")[:200])


def test_an_llm_run_sends_200_requests_and_no_answer(tmp_path: Path) -> None:
    from tests.llm_helpers import run_llm
    from tests.openai_server import FakeOpenAI

    folder = write_items_2025(tmp_path / "d", n_test=230)
    rows = _rows(folder)
    with FakeOpenAI() as server:
        proc = run_llm(tmp_path, server.base_url, "data=items_lite", f"data.path={folder}")
        assert proc.returncode == 0, proc.stderr
        bodies = server.chat_requests()
    assert len(bodies) == 200
    sent = [json.dumps(body["messages"]) for body in bodies]
    for body in bodies:
        assert not any(ANSWER.search(m["content"]) for m in body["messages"])
    users = [next(m["content"] for m in b["messages"] if m["role"] == "user") for b in bodies]
    assert sorted(users) == sorted(row["summary"] for row in rows[:200])
    answers = {f"Price is ${round(row['price'])}.00" for row in rows}
    assert not any(answer in text for answer in answers for text in sent)
    metrics = results.read_metrics(results.finished_runs(tmp_path / "r")[0])
    assert metrics["edition"] == "2025" and metrics["n"] == 200


OFFLINE = {
    "constant": [],
    "random": [],
    "bow_lr": [],
    "linear_features": [],
    "random_forest": ["predictor.n_estimators=10", "predictor.vector_size=50"],
    "svr": ["predictor.vector_size=50"],
    "word2vec_lr": ["predictor.vector_size=50"],
}


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("predictor", sorted(OFFLINE))
def test_every_offline_predictor_runs_on_the_2025_edition(
    tmp_path: Path, predictor: str, fmt: str
) -> None:
    folder = write_items_2025(tmp_path / "d", fmt=fmt)
    cfg = compose(
        [f"predictor={predictor}", *OFFLINE[predictor], "data=items_lite", f"data.path={folder}",
         "tracker=none", "chart=false", f"results.dir={tmp_path / 'r'}", "quiet=true",
         "progress=false"]
    )  # fmt: skip
    result = run_config(cfg, out=io.StringIO())
    assert result.metrics["n"] == 200 and result.metrics["edition"] == "2025"
    assert math.isfinite(result.metrics["error"]) and result.metrics["error"] > 0
    trained = result.metrics["train"]
    assert trained["n"] in ((0, 50) if predictor == "random" else (50,))
    if trained["n"]:
        assert trained["source"] == str(folder / f"train.{fmt}")


def test_items_of_both_editions_are_items() -> None:
    item = Item(index=0, title="t", price=1.0, text="x\n\nPrice is $")
    assert (item.edition, item.description, item.body) == ("2024", None, item.text)
