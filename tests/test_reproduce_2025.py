"""``pricebench-reproduce --edition 2025``: the 2025 edition's published table (error only), each
row listed with why it cannot be reproduced here, and any recording given replayed on a 2025-schema
dataset built on the fly from the course's real items."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from harness import leaderboard, leaderboard_format, reproduce, results
from harness.published import N_2025, PUBLISHED, PUBLISHED_2025
from tests.conftest import DATA_DIR
from tests.editions import write_items_2025


def test_the_published_2025_copy_equals_the_shared_table() -> None:
    with (DATA_DIR / "reported_2025.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert [(p.predictor, p.description, p.error) for p in PUBLISHED_2025] == [
        (r["name"], r["description"], float(r["error"])) for r in rows
    ]
    assert {r["source"] for r in rows} == {
        "ed-donner/llm_engineering week6/results.ipynb (2025 edition)"
    }
    assert all(p.recording is None and p.edition == "2025" for p in PUBLISHED_2025)
    assert [p.line for p in PUBLISHED_2025][:2] == ["Error=$106.18", "Error=$101.56"]
    assert N_2025 == 200 and all(p.edition == "2024" for p in PUBLISHED)


def test_every_2025_row_is_listed_with_why_and_it_exits_0(tmp_path: Path, capsys) -> None:
    reproduce.main(["--edition", "2025", "--results", str(tmp_path / "r")])
    out = capsys.readouterr().out.splitlines()
    assert out[-1] == "0 of 14 rows reproduced, 0 mismatched"
    for p in PUBLISHED_2025:
        k = out.index(f"{p.predictor:28s} reported   Error=${p.error:,.2f}")
        assert out[k + 1].startswith(f"{'':28s} not reproducible here: ")
        assert (
            f"no recording of its guesses (give one as --recordings DIR/{p.predictor}.csv)"
            in (out[k + 1])
        )
    assert len(out) == 2 * 14 + 1 and not (tmp_path / "r").exists()
    (gpt51,) = [out[k + 1] for k, line in enumerate(out) if line.startswith("gpt-5.1 ")]
    assert "calls a hosted model" in gpt51


def test_an_unknown_edition_is_one_line(capsys) -> None:
    with pytest.raises(SystemExit) as stopped:
        reproduce.main(["--edition", "2030"])
    assert stopped.value.code == 2
    assert capsys.readouterr().err.splitlines() == [
        "pricebench-reproduce: error: argument --edition: invalid choice: '2030' (choose from "
        "'2024', '2025') (see pricebench-reproduce --help)"
    ]


@pytest.fixture(scope="module")
def items(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_items_2025(tmp_path_factory.mktemp("items"), n_test=220, n_train=20)


def _recording(folder: Path, name: str, items: Path, offset: float) -> Path:
    """A recording of guesses ``offset`` above every true price of the first 200 test items."""
    truths = [json.loads(line)["price"] for line in (items / "test.jsonl").open()][:N_2025]
    folder.mkdir(exist_ok=True)
    path = folder / f"{name}.csv"
    path.write_text(
        "index,guess\n" + "".join(f"{i},{t + offset!r}\n" for i, t in enumerate(truths))
    )
    return path


@pytest.mark.slow
def test_a_recording_given_is_replayed_and_matched_on_its_error(
    tmp_path: Path, items: Path, capsys
) -> None:
    recordings = tmp_path / "recordings"
    _recording(recordings, "gpt-5.1", items, 44.74)  # an error of exactly $44.74
    store = tmp_path / "results"
    reproduce.main(["--edition", "2025", "--recordings", str(recordings), "--results", str(store),
                    "--data", str(items)])  # fmt: skip
    out = capsys.readouterr().out.splitlines()
    k = out.index(f"{'gpt-5.1':28s} reported   Error=$44.74")
    assert out[k + 1].startswith(f"{'':28s} reproduced Error=$44.74 MSE=2,002 R²=")
    assert out[k + 1].endswith("  match")
    assert out[-1] == "1 of 14 rows reproduced, 0 mismatched"
    (run,) = leaderboard.load_runs(store)
    assert run.metrics["edition"] == "2025" and run.metrics["n"] == N_2025
    assert run.metrics["mse"] == pytest.approx(44.74**2)
    text = leaderboard_format.markdown(leaderboard.build([run], n_boot=20))
    assert "| 1 | gpt-5.1 |" in text and "gpt-5.1 (reported) |  | $44.74 |" in text
    assert "gpt-4o-mini (reported)" not in text


@pytest.mark.slow
def test_a_recording_that_does_not_match_is_named(tmp_path: Path, items: Path, capsys) -> None:
    recordings = tmp_path / "recordings"
    _recording(recordings, "human", items, 87.64)  # $0.02 off the published $87.62
    with pytest.raises(SystemExit) as stopped:
        reproduce.main(["--edition", "2025", "--recordings", str(recordings),
                        "--results", str(tmp_path / "r"), "--data", str(items)])  # fmt: skip
    assert stopped.value.code == 1
    captured = capsys.readouterr()
    assert captured.err.splitlines() == ["pricebench-reproduce: error: mismatch in human"]
    assert "1 of 14 rows reproduced, 1 mismatched" in captured.out
    assert captured.out.count("MISMATCH") == 1
    assert len(results.finished_runs(tmp_path / "r")) == 1
