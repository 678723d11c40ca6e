"""Cost against error (issue 14, item 3) and the leaderboard page's style (item 5): the Pareto
front, the PNG, the "$ per 250 items" column, the cost chart on the HTML page only when two runs
carry a cost, and the page's style sheet. Run folders are written directly (``write_good_run``)
with a ``cost`` in metrics.json."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest

from harness import cost_chart, leaderboard_format
from harness.errors import PricebenchError
from harness.leaderboard import Leaderboard, build, load_runs
from tests.hostile.cases_board import N_ITEMS, write_good_run

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def board_of(results_dir: Path, **kwargs: object) -> Leaderboard:
    return build(load_runs(results_dir), n_boot=20, **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def costed_store(tmp_path: Path) -> Path:
    """Three runs with a cost (one cheap and rough, one dear and close, one dear and rough) and
    one without."""
    results_dir = tmp_path / "results"
    write_good_run(results_dir, "cheap", 0.6, 1, cost=0.02)
    write_good_run(results_dir, "dear", 0.1, 2, cost=0.40)
    write_good_run(results_dir, "wasteful", 0.9, 3, cost=0.80)
    write_good_run(results_dir, "free", 0.5, 4)
    return results_dir


def test_the_pareto_front_of_a_hand_example() -> None:
    points = [(1.0, 100.0), (2.0, 80.0), (3.0, 90.0), (5.0, 50.0), (5.0, 60.0), (0.5, 200.0)]
    # (3, 90) is beaten by (2, 80), (5, 60) by (5, 50); the rest trade cost for error
    assert cost_chart.pareto_front(points) == [0, 1, 3, 5]
    assert cost_chart.pareto_front([(1.0, 10.0), (1.0, 10.0)]) == [0, 1]  # equal: both stay
    assert cost_chart.pareto_front([(1.0, 10.0), (1.0, 9.0)]) == [1]  # as cheap, more accurate
    assert cost_chart.pareto_front([(1.0, 10.0), (2.0, 10.0)]) == [0]  # as accurate, cheaper


def test_the_front_of_a_board_is_the_cheap_and_the_dear_run(costed_store: Path) -> None:
    (table,) = cost_chart.charted_tables(board_of(costed_store, reported=False))
    rows = cost_chart.costed(table.rows)
    assert sorted(r.title for r in rows) == ["cheap", "dear", "wasteful"]  # "free" has no cost
    points = [(cost_chart.cost_per_250(r) or 0, r.values["error"]) for r in rows]
    assert sorted(rows[i].title for i in cost_chart.pareto_front(points)) == ["cheap", "dear"]


def test_the_png_is_written(costed_store: Path, tmp_path: Path) -> None:
    out = tmp_path / "charts" / "cost.png"
    assert cost_chart.write_png(board_of(costed_store), out) == out
    data = out.read_bytes()
    assert data[:8] == PNG_MAGIC and len(data) > 10_000
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert (width, height) == (768, 480)  # 8 x 5 inches at 96 dpi: one panel


def test_no_png_without_two_runs_with_a_cost(tmp_path: Path) -> None:
    results_dir = tmp_path / "results"
    write_good_run(results_dir, "cheap", 0.6, 1, cost=0.02)
    write_good_run(results_dir, "free", 0.5, 2)
    out = tmp_path / "cost.png"
    with pytest.raises(PricebenchError) as caught:
        cost_chart.write_png(board_of(results_dir), out)
    assert "\n" not in str(caught.value) and "1 run(s) with a cost" in str(caught.value)
    assert not out.exists()


def test_an_unwritable_output_is_one_line(costed_store: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(PricebenchError, match=r"^cannot write .*a-file/x\.png: .*--output"):
        cost_chart.write_png(board_of(costed_store), blocker / "x.png")


def test_the_cost_per_250_items_column(tmp_path: Path) -> None:
    results_dir = tmp_path / "results"
    write_good_run(results_dir, "cheap", 0.6, 1, cost=0.02)
    write_good_run(results_dir, "free", 0.5, 2)
    write_good_run(results_dir, "zero", 0.4, 3, cost=0)
    board = board_of(results_dir, reported=False)
    heads = leaderboard_format.headers()
    column = heads.index("$ per 250 items")
    assert heads[column - 1] == "cost"
    by_title = {row.title: leaderboard_format.cells(row) for row in board.ranked}
    assert N_ITEMS == 40
    assert by_title["cheap"][column - 1 : column + 1] == ["$0.0200", "$0.1250"]  # 0.02 x 250 / 40
    assert by_title["free"][column] == "" and by_title["zero"][column] == ""
    lines = leaderboard_format.markdown(board).splitlines()
    assert lines[0].endswith("| cost | $ per 250 items | date | run |")
    (cheap,) = [line for line in lines if "| cheap |" in line]
    assert "| $0.0200 | $0.1250 | 2026-01-01 |" in cheap


def test_a_mean_row_costs_its_runs_mean(tmp_path: Path) -> None:
    results_dir = tmp_path / "results"
    write_good_run(results_dir, "seeds", 0.3, 1, cost=0.04)
    write_good_run(results_dir, "seeds", 0.3, 2, cost=0.06)
    (row,) = board_of(results_dir, aggregate="mean", reported=False).ranked
    assert row.runs == 2 and row.cost == pytest.approx(0.10)
    assert cost_chart.cost_per_250(row) == pytest.approx(0.05 * 250 / 40)
    assert leaderboard_format.cells(row)[-3] == "$0.3125"


def test_the_terminal_table_has_the_column(costed_store: Path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "400")
    leaderboard_format.rich_table(board_of(costed_store, reported=False))
    out = capsys.readouterr().out
    assert "$ per 250 items" in out and "$0.0200" in out and "$0.1250" in out


def test_the_page_has_the_cost_chart_only_with_two_costed_runs(tmp_path: Path) -> None:
    results_dir = tmp_path / "results"
    write_good_run(results_dir, "cheap", 0.6, 1, cost=0.02)
    write_good_run(results_dir, "free", 0.5, 2)
    page = leaderboard_format.to_html(board_of(results_dir))
    assert "Error against cost" not in page and "cost-chart" not in page
    write_good_run(results_dir, "dear", 0.1, 3, cost=0.4)
    page = leaderboard_format.to_html(board_of(results_dir))
    assert page.count("<h2 id='cost'>Error against cost</h2>") == 1
    (src,) = re.findall(r"class='cost-chart'[^>]*src='data:image/png;base64,([^']+)'", page)
    import base64

    assert base64.b64decode(src)[:8] == PNG_MAGIC


def test_the_page_style_sheet_and_row_marks(costed_store: Path) -> None:
    page = leaderboard_format.to_html(board_of(costed_store))
    css = leaderboard_format.CSS
    assert f"<style>{css}</style>" in page
    assert "thead th{position:sticky;top:0" in css
    assert "td.num,th.num{text-align:right" in css
    assert "img{max-width:100%;height:auto}" in css
    for rule in ("tr.leader td{", "tr.tie td{", "tr.reported td{"):
        assert rule in css
    assert "<meta name='viewport' content='width=device-width, initial-scale=1'>" in page
    assert page.count('<tr class="leader">') == 1
    assert page.count('<tr class="reported">') == 12
    assert '<td class="num">40</td>' in page  # n, right-aligned
    assert "<thead><tr><th>#</th><th>predictor</th>" in page


def test_the_runs_tied_with_the_leader_are_marked(tmp_path: Path) -> None:
    results_dir = tmp_path / "results"
    write_good_run(results_dir, "first", 0.30, 1)
    write_good_run(results_dir, "close", 0.31, 2)
    board = board_of(results_dir, reported=False)
    assert [r.tie_with_leader for r in board.ranked] == ["leader", "yes"]
    page = leaderboard_format.to_html(board)
    assert page.count('<tr class="leader">') == 1 and page.count('<tr class="tie">') == 1
    (tie,) = re.findall(r'<tr class="tie">.*?</tr>', page)
    assert '<td class="num">2 ≈</td>' in tie


def test_the_page_wrapper_escapes_its_title() -> None:
    page = leaderboard_format.page("A <b> & B", ["<p>body</p>"])
    assert "<title>A &lt;b&gt; &amp; B</title>" in page and "<h1>A &lt;b&gt; &amp; B</h1>" in page
    assert page.startswith("<!doctype html>") and page.endswith("<p>body</p>\n</body></html>")


def test_a_costed_run_with_markup_in_its_title_stays_escaped(tmp_path: Path) -> None:
    results_dir = tmp_path / "results"
    evil = "<script>alert(1)</script>"
    write_good_run(results_dir, evil, 0.6, 1, cost=0.02, model=evil)
    write_good_run(results_dir, "dear", 0.1, 2, cost=0.4)
    page = leaderboard_format.to_html(board_of(results_dir))
    assert "<script>" not in page and html.escape(evil) in page and "cost-chart" in page
