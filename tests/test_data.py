"""The three loaders, where data is found, the fixed set's fingerprint and the training pool."""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import pytest

from harness.data import (
    CANONICAL_FINGERPRINT,
    fingerprint,
    load_dataset,
    load_hub,
    load_jsonl,
    load_pickle,
    resolve_test_file,
    title_from_text,
)
from harness.errors import PricebenchError


def _rows(data_dir: Path, n: int) -> list[dict]:
    with (data_dir / "test.jsonl").open() as f:
        return [json.loads(next(f)) for _ in range(n)]


def _write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_jsonl_loader_reads_the_fixed_set(data_dir: Path) -> None:
    items = load_jsonl(data_dir / "test.jsonl")
    assert len(items) == 2000
    first = items[0]
    assert first.index == 0 and first.price == 374.41 and first.category == "Automotive"
    assert first.title.startswith("OEM AC Compressor")
    assert first.text.endswith("Price is $")
    assert first.details["Brand"] == "BUYAUTOPARTS!"
    assert fingerprint(items[:250]) == CANONICAL_FINGERPRINT


def test_dataset_is_canonical_only_for_the_first_250(data_dir: Path) -> None:
    canonical = load_dataset(str(data_dir), need_train=False)
    assert (len(canonical.test), canonical.canonical) == (250, True)
    smaller = load_dataset(str(data_dir), size=100, need_train=False)
    assert (len(smaller.test), smaller.canonical) == (100, False)
    assert smaller.fingerprint != CANONICAL_FINGERPRINT


def test_pickle_loader_gives_the_same_items_as_jsonl(data_dir: Path) -> None:
    from_pickle = load_pickle(data_dir / "test.pkl")
    from_jsonl = load_jsonl(data_dir / "test.jsonl")
    assert fingerprint(from_pickle[:250]) == CANONICAL_FINGERPRINT
    assert [i.title for i in from_pickle[:250]] == [i.title for i in from_jsonl[:250]]
    assert from_pickle[0].details == from_jsonl[0].details


class _Exploit:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_pickle_loader_refuses_code_without_running_it(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    bad = tmp_path / "test.pkl"
    bad.write_bytes(pickle.dumps([_Exploit(marker)]))
    with pytest.raises(PricebenchError, match=r"refers to (posix|os)\.system.*only the course's"):
        load_pickle(bad)
    assert not marker.exists()


def test_pickle_loader_refuses_anything_but_course_items(tmp_path: Path) -> None:
    bad = tmp_path / "dicts.pkl"
    bad.write_bytes(pickle.dumps([{"price": 1.0, "prompt": "x"}]))
    with pytest.raises(PricebenchError, match="list of the course's items.Item"):
        load_pickle(bad)
    other = tmp_path / "other.pkl"
    other.write_bytes(pickle.dumps([Path("x")]))
    with pytest.raises(PricebenchError, match="refers to pathlib"):
        load_pickle(other)


@pytest.fixture()
def offline_hub(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    return tmp_path


@pytest.mark.parametrize("suffix", [".jsonl", ".parquet"])
def test_hub_schema_loader_reads_local_files(
    data_dir: Path, offline_hub: Path, suffix: str
) -> None:
    rows = [{"text": r["text"], "price": r["price"]} for r in _rows(data_dir, 12)]
    path = offline_hub / f"test{suffix}"
    if suffix == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.Table.from_pylist(rows), path)
    else:
        _write_jsonl(path, rows)
    items = load_hub(path, cache_dir=str(offline_hub / "cache"))
    assert [i.price for i in items] == [r["price"] for r in rows]
    assert items[0].title == title_from_text(rows[0]["text"])
    assert items[0].title.startswith("OEM AC Compressor w/A/C Repair Kit")
    assert fingerprint(items) == fingerprint(load_jsonl(data_dir / "test.jsonl")[:12])


def test_hub_schema_strips_the_answer_from_training_prompts(offline_hub: Path) -> None:
    text = "How much does this cost to the nearest dollar?\n\nA Lamp\nBright.\n\nPrice is $25.00"
    path = _write_jsonl(offline_hub / "train.jsonl", [{"text": text, "price": 25.0}])
    (item,) = load_hub(path, cache_dir=str(offline_hub / "cache"))
    assert item.text.endswith("Price is $") and "25.00" not in item.text
    assert item.title == "A Lamp"


def test_data_path_comes_from_the_environment(data_dir: Path, monkeypatch) -> None:
    monkeypatch.setenv("PRICEBENCH_DATA", str(data_dir))
    assert resolve_test_file(None) == data_dir / "test.jsonl"
    monkeypatch.delenv("PRICEBENCH_DATA")
    assert resolve_test_file(None) is None  # the hub


def test_missing_data_path_says_how_to_get_data(tmp_path: Path, data_dir: Path) -> None:
    with pytest.raises(PricebenchError, match="does not exist.*PRICEBENCH_DATA") as caught:
        resolve_test_file(tmp_path / "nowhere")
    # the example is absolute, so that it works from any folder (issue 16)
    assert f"e.g. {data_dir}," in str(caught.value) and "../shared" not in str(caught.value)
    with pytest.raises(PricebenchError, match="holds no test.jsonl"):
        resolve_test_file(tmp_path)


def test_malformed_jsonl_names_file_and_line(tmp_path: Path, data_dir: Path) -> None:
    path = _write_jsonl(tmp_path / "test.jsonl", _rows(data_dir, 3))
    path.write_text(path.read_text() + "{not json\n")
    with pytest.raises(PricebenchError, match=r"test.jsonl:4: malformed JSON"):
        load_jsonl(path)


def test_missing_fields_are_named(tmp_path: Path, data_dir: Path) -> None:
    rows = _rows(data_dir, 2)
    del rows[1]["title"]
    with pytest.raises(PricebenchError, match=r"test.jsonl:2: missing field\(s\) title"):
        load_jsonl(_write_jsonl(tmp_path / "test.jsonl", rows))


def test_a_test_price_of_zero_is_refused(tmp_path: Path, data_dir: Path) -> None:
    rows = _rows(data_dir, 3)
    rows[2]["price"] = 0
    _write_jsonl(tmp_path / "test.jsonl", rows)
    with pytest.raises(PricebenchError, match=r"test.jsonl:3: price 0 is not above 0 \("):
        load_dataset(str(tmp_path), size=3, need_train=False)


def test_offline_training_pool_is_disjoint_from_the_fixed_set(data_dir: Path) -> None:
    dataset = load_dataset(str(data_dir))
    test_texts = {item.text for item in dataset.test}
    assert not test_texts & {item.text for item in dataset.train}
    # train_sample (250) + test rows 250-1999 (1750), less the duplicates of test texts
    assert len(dataset.train) + dataset.train_dropped_overlap == 2000
    assert dataset.train_dropped_overlap == 1
    assert "train_sample.jsonl" in dataset.train_source and "[250:2000]" in dataset.train_source


def test_training_items_equal_to_test_items_are_dropped_and_counted(tmp_path, data_dir) -> None:
    rows = _rows(data_dir, 10)
    _write_jsonl(tmp_path / "test.jsonl", rows)
    _write_jsonl(tmp_path / "train.jsonl", rows[3:10])
    dataset = load_dataset(str(tmp_path), size=5)
    assert dataset.train_dropped_overlap == 2  # rows 3 and 4
    assert len(dataset.train) == 5
    assert dataset.train_source.endswith("train.jsonl")


def test_training_source_and_size_are_configurable(tmp_path, data_dir) -> None:
    rows = _rows(data_dir, 300)
    train = _write_jsonl(tmp_path / "mine.jsonl", rows[260:300])
    dataset = load_dataset(str(data_dir), train_path=str(train), train_size=10)
    assert len(dataset.train) == 10
    assert dataset.train[0].title == rows[260]["title"]
