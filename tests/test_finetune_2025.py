"""Fine-tuning data for the 2025 edition: ``pricebench-finetune data=items_lite`` prepares the chat
JSONL from rows in that edition's schema (built on the fly from real items by tests/editions.py,
JSONL and parquet), the answer only in the assistant message, and refuses a training item that is
one of the edition's fixed 200 test items."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from predictors.prompts import SYSTEM_PROMPT
from tests.editions import DATA, rows_2025, write_items_2025, write_rows
from tests.openai_server import FakeOpenAI
from tests.test_finetune_endpoints import finetune

ANSWER = re.compile(r"Price is \$\s*\d")


def _examples(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _out(tmp_path: Path) -> Path:
    return tmp_path / "results" / "finetune" / "pricer"


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_items_lite_prepares_chat_examples_with_the_answer_only_in_the_assistant_message(
    tmp_path: Path, fmt: str
) -> None:
    folder = write_items_2025(tmp_path / "items_lite", n_test=200, n_train=60, fmt=fmt)
    proc = finetune(
        tmp_path, "data=items_lite", f"data.path={folder}", "stage=prepare",
        "train_size=40", "validation_size=20",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "training: 40 examples" in proc.stdout and "validation: 20 examples" in proc.stdout
    train_rows = rows_2025(DATA / "train_sample.jsonl", 60, first_id=100_000)
    test_rows = rows_2025(DATA / "test.jsonl", 200)
    test_summaries = {row["summary"] for row in test_rows}
    for name, rows in (("train.jsonl", train_rows[:40]), ("validation.jsonl", train_rows[40:])):
        examples = _examples(_out(tmp_path) / name)
        assert len(examples) == len(rows)
        for example, row in zip(examples, rows, strict=True):
            system, user, assistant = example["messages"]
            assert [m["role"] for m in example["messages"]] == ["system", "user", "assistant"]
            assert system["content"] == SYSTEM_PROMPT
            # the user message reads the row's summary (as the LLM predictors do on 2025 items),
            # never its training prompt's answer
            assert row["summary"] in user["content"]
            assert row["summary"] not in test_summaries
            assert ANSWER.search(system["content"] + user["content"]) is None
            assert row["prompt"].rsplit("\n\n", 1)[1] not in user["content"]  # "Price is $227.00"
            assert assistant["content"] == f"Price is ${row['price']:.2f}"


def _train_file(tmp_path: Path, rows: list[dict], fmt: str) -> Path:
    path = tmp_path / f"mytrain.{fmt}"
    return write_rows(rows, path, fmt)


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_a_training_item_from_the_fixed_200_is_refused(tmp_path: Path, fmt: str) -> None:
    folder = write_items_2025(tmp_path / "items_lite", n_test=260, n_train=10, fmt=fmt)
    test_rows = rows_2025(DATA / "test.jsonl", 260)
    leaked = test_rows[205:225] + [test_rows[199]] + test_rows[225:240]  # 199: the 200th
    train = _train_file(tmp_path, leaked, fmt)
    proc = finetune(
        tmp_path, "data=items_lite", f"data.path={folder}", f"data.train_path={train}",
        "stage=prepare", "train_size=30", "validation_size=5",
    )  # fmt: skip
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    lines = proc.stderr.splitlines()
    if fmt == "parquet":
        # harness/data.py reads parquet through the `datasets` library, whose progress bars (and a
        # multiprocessing warning) reach stderr before the error line: reported to the lead
        lines = [x for x in lines if x.startswith("pricebench-finetune:")]
    (line,) = lines
    assert line.startswith("pricebench-finetune: error: training slice item 21 (")
    assert "refusing: item is in the fixed test set" in line
    assert not (_out(tmp_path) / "train.jsonl").exists()


@pytest.mark.slow
def test_test_items_after_the_fixed_200_may_be_trained_on(tmp_path: Path) -> None:
    folder = write_items_2025(tmp_path / "items_lite", n_test=260, n_train=10)
    test_rows = rows_2025(DATA / "test.jsonl", 260)
    train = _train_file(tmp_path, test_rows[200:260], "jsonl")
    proc = finetune(
        tmp_path, "data=items_lite", f"data.path={folder}", f"data.train_path={train}",
        "stage=prepare", "train_size=40", "validation_size=20",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    examples = _examples(_out(tmp_path) / "train.jsonl")
    assert examples[0]["messages"][2]["content"] == f"Price is ${test_rows[200]['price']:.2f}"


@pytest.mark.slow
def test_items_lite_runs_to_the_end_against_a_server(tmp_path: Path) -> None:
    folder = write_items_2025(tmp_path / "items_lite", n_test=200, n_train=30, fmt="parquet")
    with FakeOpenAI() as server:
        proc = finetune(
            tmp_path, "data=items_lite", f"data.path={folder}", f"base_url={server.base_url}",
            "train_size=20", "validation_size=10",
        )  # fmt: skip
        uploaded = {f["filename"]: f["content"] for f in server.files.values()
                    if f["purpose"] == "fine-tune"}  # fmt: skip
        (job,) = server.jobs.values()
    assert proc.returncode == 0, proc.stderr
    assert uploaded["train.jsonl"] == (_out(tmp_path) / "train.jsonl").read_bytes()
    assert len(uploaded["validation.jsonl"].decode().splitlines()) == 10
    assert job["status"] == "succeeded"
    for example in map(json.loads, uploaded["train.jsonl"].decode().splitlines()):
        user = example["messages"][1]["content"]
        assert ANSWER.search(user) is None
        assert ANSWER.match(example["messages"][2]["content"])


@pytest.mark.slow
@pytest.mark.parametrize(("data", "size", "leak"), [("items_lite", 50, 199), ("pricer", 100, 249)])
def test_a_smaller_data_size_still_checks_against_the_whole_fixed_set(
    tmp_path: Path, data: str, size: int, leak: int
) -> None:
    if data == "items_lite":
        folder = write_items_2025(tmp_path / "items_lite", n_test=260, n_train=10)
        rows = rows_2025(DATA / "test.jsonl", 260)
    else:
        folder = DATA
        with (DATA / "test.jsonl").open(encoding="utf-8") as handle:
            rows = [json.loads(line) for line in handle][:300]
    fixed = leak + 1  # the edition's fixed set: 200 or 250 items; ``leak`` is its last
    chosen = rows[fixed : fixed + 30] + [rows[leak]] + rows[fixed + 30 : fixed + 40]
    train = tmp_path / "mytrain.jsonl"
    train.write_text("".join(json.dumps(r) + "\n" for r in chosen), encoding="utf-8")
    proc = finetune(
        tmp_path, f"data={data}", f"data.path={folder}", f"data.size={size}",
        f"data.train_path={train}", "stage=prepare", "train_size=30", "validation_size=5",
    )  # fmt: skip
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    (line,) = proc.stderr.splitlines()
    assert line.startswith("pricebench-finetune: error: validation slice item 1 (")
    assert "refusing: item is in the fixed test set" in line
