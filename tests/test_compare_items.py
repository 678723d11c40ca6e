"""``pricebench-leaderboard --compare A B`` item by item, checked against the course's recordings:
the counts of items hit by one run only and the items the runs disagree on most are recomputed
here from the recording CSVs and test.jsonl, independently of harness.compare."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest

from harness import leaderboard_cli
from harness.compare import compare_items
from tests.conftest import DATA_DIR, REFERENCE_DIR, run_cli, run_dirs

RECORDED = ("gpt-4o-mini", "human")


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """gpt-4o-mini's and the human's recordings replayed into a results folder."""
    cwd = tmp_path_factory.mktemp("compare")
    for name in RECORDED:
        done = run_cli("predictor=replay", f"predictor.path={REFERENCE_DIR / name}.csv", cwd=cwd)
        assert done.returncode == 0, done.stderr
    return cwd / "results"


def run_named(store: Path, name: str) -> str:
    (path,) = [p for p in run_dirs(store) if re.search(rf"_{re.escape(name)}_[0-9a-f]+$", p.name)]
    return path.name


def recorded(name: str) -> dict[int, float]:
    with (REFERENCE_DIR / f"{name}.csv").open(newline="") as f:
        return {int(row["index"]): float(row["guess"]) for row in csv.DictReader(f)}


def expected() -> tuple[int, int, list[str], list[tuple[float, float, float]]]:
    """From the recordings alone: items hit by A only, by B only, and the titles (and truth, both
    guesses) of the 10 items whose absolute errors differ most (ties: lower index first)."""
    lines = (DATA_DIR / "test.jsonl").read_text().splitlines()[:250]
    items = [json.loads(line) for line in lines]
    a, b = recorded("gpt-4o-mini"), recorded("human")

    def hit(truth: float, guess: float) -> bool:
        error = abs(guess - truth)
        return error < 40 or error / truth < 0.2

    a_only = sum(
        hit(it["price"], a[i]) and not hit(it["price"], b[i]) for i, it in enumerate(items)
    )
    b_only = sum(
        hit(it["price"], b[i]) and not hit(it["price"], a[i]) for i, it in enumerate(items)
    )
    gaps = sorted(
        range(250),
        key=lambda i: (-abs(abs(a[i] - items[i]["price"]) - abs(b[i] - items[i]["price"])), i),
    )[:10]
    titles = [items[i]["title"] for i in gaps]
    figures = [(items[i]["price"], a[i], b[i]) for i in gaps]
    return a_only, b_only, titles, figures


def main(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    leaderboard_cli.main(list(args))
    captured = capsys.readouterr()
    assert captured.err == ""
    return captured.out


def test_the_text_comparison_counts_the_items_one_run_hits(store: Path, capsys) -> None:
    a_only, b_only, _, _ = expected()
    assert (a_only, b_only) == (73, 23)  # and McNemar's counts say the same
    a, b = (run_named(store, n) for n in RECORDED)
    out = main(capsys, "--results", str(store), "--compare", a, b)
    assert f"items hit by one run only: A only {a_only}, B only {b_only}" in out.splitlines()
    assert f"(A only: {a_only}, B only: {b_only})" in out
    assert "verdict: different at 5%" in out
    assert "the 10 items the runs' errors differ most on:" in out
    assert "by price band (mean absolute error):" in out and "by category" in out


def test_markdown_lists_the_most_disagreed_items_as_the_recordings_say(store: Path, capsys) -> None:
    a_only, b_only, titles, figures = expected()
    a, b = (run_named(store, n) for n in RECORDED)
    out = main(capsys, "--results", str(store), "--compare", a, b, "--format", "markdown")
    assert f"A only: {a_only}, B only: {b_only}" in out
    section = out.split("## The 10 items the runs' errors differ most on")[1].split("\n## ")[0]
    rows = [line for line in section.splitlines() if line.startswith("| ") and "---" not in line]
    shown = [row.split(" | ")[0][2:].replace("\\|", "|") for row in rows[1:]]
    assert shown == titles
    for row, (truth, guess_a, guess_b) in zip(rows[1:], figures, strict=True):
        assert f"| ${truth:,.2f} | ${guess_a:,.2f} | ${guess_b:,.2f} |" in row


def test_bands_and_categories_name_the_winner(store: Path) -> None:
    from harness.leaderboard import find_run

    a, b = (find_run(store, run_named(store, n)) for n in RECORDED)
    c = compare_items(a.records, b.records)
    assert c.n == 250 and sum(g.n for g in c.bands) == 250 and sum(g.n for g in c.categories) == 250
    truths = {r["index"]: r["truth"] for r in a.records}
    under_50 = [i for i in truths if truths[i] < 50]
    ga, gb = recorded("gpt-4o-mini"), recorded("human")
    band = c.bands[0]
    assert band.group == "<$50" and band.n == len(under_50)
    assert band.error_a == pytest.approx(sum(abs(ga[i] - truths[i]) for i in under_50) / band.n)
    assert band.error_b == pytest.approx(sum(abs(gb[i] - truths[i]) for i in under_50) / band.n)
    assert band.winner == "A" and band.diff < 0
    phones = {g.group: g for g in c.categories}["Cell_Phones_and_Accessories"]
    assert phones.winner == "B"  # the one category where the human is closer


def test_csv_holds_every_shared_item(store: Path, capsys) -> None:
    a, b = (run_named(store, n) for n in RECORDED)
    out = main(capsys, "--results", str(store), "--compare", a, b, "--format", "csv")
    rows = list(csv.DictReader(out.splitlines()))
    assert len(rows) == 250
    assert sum(r["hit_a"] == "1" and r["hit_b"] == "0" for r in rows) == 73


def test_the_html_page_has_both_charts_and_the_error_scatter(
    store: Path, tmp_path: Path, capsys
) -> None:
    _, _, titles, _ = expected()
    a, b = (run_named(store, n) for n in RECORDED)
    page = tmp_path / "compare.html"
    out = main(capsys, "--results", str(store), "--compare", a, b, "--format", "html",
               "--output", str(page))  # fmt: skip
    assert out == f"wrote {page}\n"
    text = page.read_text()
    assert text.count("src='data:image/png;base64,") == 3  # A's chart, B's chart, the scatter
    assert "alt='A error vs B error'" in text
    assert "<h2>The 10 items the runs' errors differ most on</h2>" in text
    import html

    assert all(html.escape(t) in text for t in titles)
    assert "<td class='num'>" in text and text.rstrip().endswith("</html>")
