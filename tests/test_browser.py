"""The HTML pages in a real browser: headless Chromium (Debian's ``chromium``, driven by
Playwright without a browser download of its own) renders the leaderboard and the compare page
made from two replayed recordings; the rendered DOM has the rows, every chart loaded, no script
errors, and the screenshot is not blank.

CI must run these: a missing browser fails them with the command that installs it."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from harness import leaderboard_cli
from tests.conftest import DATA_DIR, REFERENCE_DIR, only_run, run_cli

pytestmark = pytest.mark.slow

RUNS = ("gpt-4o-mini", "human")  # two of the course's recordings, replayed
LAPTOP = {"width": 1366, "height": 768}  # a laptop screen
MIN_COLOURS = 64  # a blank or text-only page has a handful; a page with charts, hundreds


def chromium_path() -> str:
    """The system Chromium (``PRICEBENCH_CHROMIUM`` names another), or fail saying how to get it."""
    path = os.environ.get("PRICEBENCH_CHROMIUM") or shutil.which("chromium")
    if not path:
        pytest.fail(
            "chromium not found: install Debian's browser (apt-get install chromium; .ci/run does "
            "it) or set PRICEBENCH_CHROMIUM to a Chromium executable",
            pytrace=False,
        )
    return path


@dataclass
class Rendered:
    """What the browser made of one page."""

    errors: list[str] = field(default_factory=list)  # console errors, page errors, failed loads
    images: list[dict[str, Any]] = field(default_factory=list)
    tables: list[list[list[str]]] = field(default_factory=list)  # each table's rows of cells
    headings: list[str] = field(default_factory=list)  # the <h2> above each table ("" for none)
    text: str = ""
    screenshot: bytes = b""
    page_width: int = 0  # the document's scroll width at the laptop size
    styles: dict[str, Any] = field(default_factory=dict)


_PROBE = """() => {
  const lead = document.querySelector('table');
  const rows = lead ? [...lead.querySelectorAll('tr')].filter(tr => tr.querySelector('td')) : [];
  const look = (tr) => {
    const s = getComputedStyle(tr.querySelector('td'));
    return [s.color, s.backgroundColor, s.fontStyle, s.fontWeight, s.borderLeftWidth].join(' ');
  };
  const errorCell = rows.length ? rows[0].querySelectorAll('td')[3] : null;
  return {
    images: [...document.images].map(img => ({
      alt: img.alt, complete: img.complete, naturalWidth: img.naturalWidth,
      right: img.getBoundingClientRect().right})),
    tables: [...document.querySelectorAll('table')].map(t => [...t.querySelectorAll('tr')]
      .filter(tr => tr.querySelector('td'))
      .map(tr => [...tr.querySelectorAll('td')].map(td => td.innerText.trim()))),
    headings: [...document.querySelectorAll('table')].map(t => [...document.querySelectorAll('h2')]
      .filter(h => h.compareDocumentPosition(t) & Node.DOCUMENT_POSITION_FOLLOWING)
      .map(h => h.innerText.trim()).pop() || ''),
    text: document.body.innerText,
    pageWidth: document.documentElement.scrollWidth,
    styles: {
      headerPosition: lead && getComputedStyle(lead.querySelector('th')).position,
      errorAlign: errorCell && getComputedStyle(errorCell).textAlign,
      rowLooks: rows.map(look),
    },
  };
}"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Chromium for every page of the module."""
    executable = chromium_path()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("playwright is missing: pip install -e '.[dev]'", pytrace=False)
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        yield launched
        launched.close()


def render(browser: Any, path: Path) -> Rendered:
    """Open ``path`` at a laptop's size, wait for it to load, and read back what it shows (the
    screenshot is kept beside the page, as ``.png``, for a look after a failure)."""
    seen = Rendered()
    page = browser.new_page(viewport=LAPTOP)
    page.on("console", lambda m: m.type == "error" and seen.errors.append(f"console: {m.text}"))
    page.on("pageerror", lambda exc: seen.errors.append(f"script: {exc}"))
    page.on("requestfailed", lambda r: seen.errors.append(f"load: {r.url[:80]} {r.failure}"))
    page.goto(path.resolve().as_uri(), wait_until="load")
    probe = page.evaluate(_PROBE)
    seen.images, seen.tables, seen.text = probe["images"], probe["tables"], probe["text"]
    seen.headings = probe["headings"]
    seen.page_width, seen.styles = probe["pageWidth"], probe["styles"]
    seen.screenshot = page.screenshot(path=path.with_suffix(".png"), full_page=True)
    page.close()
    return seen


def assert_not_blank(png: bytes) -> None:
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB")
    colours = image.getcolors(maxcolors=1 << 24) or []
    inked = sum(n for n, rgb in colours if rgb != (255, 255, 255))
    assert len(colours) > MIN_COLOURS, f"screenshot has only {len(colours)} colours"
    assert inked > 0.02 * image.width * image.height, "screenshot is almost all white"


def assert_charts_loaded(seen: Rendered, at_least: int) -> None:
    assert len(seen.images) >= at_least, seen.images
    for img in seen.images:
        assert img["complete"] and img["naturalWidth"] > 0, f"chart not loaded: {img}"
        assert img["right"] <= LAPTOP["width"], f"chart wider than the screen: {img}"


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """``pricebench predictor=replay`` of two recordings into one results folder."""
    root = tmp_path_factory.mktemp("browser")
    made = {}
    for name in RUNS:
        proc = run_cli("predictor=replay", f"predictor.path={REFERENCE_DIR / f'{name}.csv'}",
                       f"title={name}", f"results.dir={root}/{name}", cwd=root)  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        made[name] = only_run(root / name)
    results_dir = root / "results"
    results_dir.mkdir()
    for run in made.values():
        shutil.move(run, results_dir / run.name)
    return {name: results_dir / run.name for name, run in made.items()}


def results_of(runs: dict[str, Path]) -> Path:
    return next(iter(runs.values())).parent


@pytest.fixture(scope="module")
def board_page(runs: dict[str, Path], browser: Any) -> Rendered:
    out = results_of(runs).parent / "board.html"
    leaderboard_cli.main(["--results", str(results_of(runs)), "--format", "html",
                          "--output", str(out), "--bootstrap", "100"])  # fmt: skip
    return render(browser, out)


def test_the_leaderboard_page_renders_every_row_and_chart(
    board_page: Rendered, runs: dict[str, Path]
) -> None:
    seen = board_page
    assert seen.errors == []
    with (DATA_DIR / "reported.csv").open(newline="") as f:
        reported = [row["predictor"] for row in csv.DictReader(f)]
    rows = seen.tables[0]  # the leaderboard comes first
    assert len(rows) == len(runs) + len(reported)
    assert sorted(row[-1] for row in rows if row[-1]) == sorted(p.name for p in runs.values())
    names = [row[1] for row in rows]
    assert [n for n in names if not n.endswith("(reported)")] == ["gpt-4o-mini", "human"]
    assert_charts_loaded(seen, at_least=len(runs))  # each run's truth-vs-guess chart
    assert_not_blank(seen.screenshot)


def test_the_leaderboard_page_reads_well_on_a_laptop(board_page: Rendered) -> None:
    """Item 5's layout, as the browser computes it: a sticky header row, numbers right-aligned,
    the leader marked, the reported rows set apart from the runs, nothing wider than the screen."""
    styles = board_page.styles
    assert styles["headerPosition"] == "sticky", styles
    assert styles["errorAlign"] in ("right", "end"), styles
    rows = board_page.tables[0]
    looks = dict(zip((row[1] for row in rows), styles["rowLooks"], strict=True))
    reported = {look for name, look in looks.items() if name.endswith("(reported)")}
    assert len(reported) == 1, reported  # all alike
    assert reported.isdisjoint({looks["gpt-4o-mini"], looks["human"]}), looks
    ranks = {row[1]: row[0] for row in rows}
    assert (ranks["gpt-4o-mini"], ranks["human"]) == ("1", "2")  # human is not ≈ the leader
    assert looks["gpt-4o-mini"] != looks["human"]  # the leader marked
    assert board_page.page_width <= LAPTOP["width"], "the page scrolls sideways on a laptop"


def _largest_disagreement() -> str:
    """The title of the item where the two recordings' errors differ most, from the recordings."""
    items = [json.loads(line) for line in (DATA_DIR / "test.jsonl").read_text().splitlines()]
    guesses = {}
    for name in RUNS:
        with (REFERENCE_DIR / f"{name}.csv").open(newline="") as f:
            guesses[name] = {int(r["index"]): float(r["guess"]) for r in csv.DictReader(f)}
    a, b = (guesses[name] for name in RUNS)

    def gap(item: dict[str, Any]) -> float:
        i, truth = item["index"], item["price"]
        return abs(abs(a[i] - truth) - abs(b[i] - truth))

    return max((item for item in items if item["index"] in a), key=gap)["title"]


def test_the_compare_page_renders_both_charts_and_the_error_scatter(
    runs: dict[str, Path], browser: Any
) -> None:
    out = results_of(runs).parent / "compare.html"
    run_a, run_b = (runs[name].name for name in RUNS)
    leaderboard_cli.main(["--results", str(results_of(runs)), "--compare", run_a, run_b,
                          "--format", "html", "--output", str(out)])  # fmt: skip
    assert out.read_text().lstrip().lower().startswith("<!doctype html")
    seen = render(browser, out)
    assert seen.errors == []
    assert_charts_loaded(seen, at_least=3)  # both runs' scatters and A's error against B's
    assert "gpt-4o-mini" in seen.text and "human" in seen.text
    assert _largest_disagreement() in seen.text
    assert seen.tables and all(rows for rows in seen.tables), "an empty table"
    tables = {
        heading.lower(): rows for heading, rows in zip(seen.headings, seen.tables, strict=True)
    }
    most = next(rows for heading, rows in tables.items() if "differ most" in heading)
    assert len(most) == 10 and most[0][0] == _largest_disagreement()
    for grouping in ("price band", "category"):
        groups = next(
            rows for heading, rows in tables.items() if heading.startswith(f"by {grouping}")
        )
        assert sum(int(row[1]) for row in groups) == 250, groups  # every shared item, once
    assert_not_blank(seen.screenshot)
    assert seen.page_width <= LAPTOP["width"], "the page scrolls sideways on a laptop"


def test_the_checks_catch_a_broken_page(browser: Any, tmp_path: Path) -> None:
    """The checks above are not vacuous: a script error, a chart that does not decode, a missing
    file and a blank page are each caught."""
    page = tmp_path / "broken.html"
    page.write_text(
        "<!doctype html><html><body><script>notDefined()</script>"
        "<img alt='bad' src='data:image/png;base64,AAAA'><img alt='gone' src='gone.png'>"
        "</body></html>"
    )
    seen = render(browser, page)
    assert any(e.startswith("script: ") and "notDefined" in e for e in seen.errors), seen.errors
    # Chromium names the missing file, or under load only the page's folder: it failed either way
    missing = [e for e in seen.errors if e.startswith("load: ") and "ERR_FILE_NOT_FOUND" in e]
    assert missing, seen.errors
    assert [img["naturalWidth"] for img in seen.images] == [0, 0]
    with pytest.raises(AssertionError, match="chart not loaded"):
        assert_charts_loaded(seen, at_least=1)
    with pytest.raises(AssertionError, match="screenshot (has only|is almost all white)"):
        assert_not_blank(seen.screenshot)
