"""``pricebench-reproduce``: reproduce the course's published table, row by row.

Random (seed 42) and constant (220.46) are recomputed; every row whose recording is given
(``--recordings DIR`` with ``<reported predictor name>.csv``, columns ``index,guess``) is replayed;
the rest are listed as not reproducible here, with the reason. Every run goes to the results
store, so it also appears on the leaderboard. Exit 0 only when every reproducible row matches to
the displayed precision.

``--edition 2025`` does the same for the 2025 edition's table (error only, on its first 200 test
items; ``data=items_lite``, ``--data`` a local copy): none of its rows can be recomputed here and no
recording of any was published, so each is listed with the reason unless its recording is given.
"""

from __future__ import annotations

import argparse
import io
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from harness.errors import PricebenchError
from harness.metrics import DEFAULT_EDITION, EDITIONS, figures, same_figures
from harness.published import BY_EDITION, Published, Published2025

RECOMPUTED = {
    "random": ["predictor=random", "predictor.seed=42"],
    "constant": ["predictor=constant", "predictor.value=220.46"],
}
TRAINED_ON_400K = {"linear_regression", "bow_lr", "word2vec_lr", "svr", "random_forest"}
# The 2025 edition's test set, as a data config (``--data`` gives its data.path).
DATA_2025 = "items_lite"
# Why each kind of 2025 row cannot be recomputed here (beyond: no recording was published).
WHY_2025 = {
    "constant": "the training mean it guesses is not published",
    "human": "a person's guesses, not published",
    "gpt-4.1-nano-fine-tuned": "a fine-tuned model only its owner can call",
}
HOSTED_2025 = {"gpt-4.1-nano", "grok-4.1-fast", "gemini-3-pro", "claude-sonnet-4.5", "gpt-5.1"}


def why_not(row: Published | Published2025) -> str:
    if isinstance(row, Published2025):
        if row.predictor in WHY_2025:
            why = WHY_2025[row.predictor]
        elif row.predictor in HOSTED_2025:
            why = "calls a hosted model"
        else:
            why = "trained on the edition's full training split (ed-donner/items_full)"
        return (f"{why}, and the 2025 edition published its error only, no recording of its "
                f"guesses (give one as --recordings DIR/{row.predictor}.csv)")  # fmt: skip
    if row.predictor in TRAINED_ON_400K:
        return ("trained on the 400,000-item training split (hub only) and no recording of its "
                "guesses was given")  # fmt: skip
    if row.recording:
        return f"its recording {row.recording} was not given (--recordings DIR)"
    return "calls a hosted model and no recording of its guesses was published"


def overrides_for(row: Published | Published2025, recordings: Path | None) -> list[str] | None:
    edition = [] if isinstance(row, Published) else [f"data={DATA_2025}"]
    if isinstance(row, Published) and row.predictor in RECOMPUTED:
        return RECOMPUTED[row.predictor]
    if recordings is not None and (recordings / f"{row.predictor}.csv").is_file():
        recording = recordings / f"{row.predictor}.csv"
        return ["predictor=replay", f"predictor.path={recording}", *edition]
    return None


def run_row(
    overrides: list[str], title: str, results_dir: str, data_path: str | None
) -> dict[str, Any]:
    """One evaluation through the same configs and the same path as ``pricebench``
    (:func:`harness.run.run_config`), untracked and quiet; its metrics."""
    from harness.run import compose, run_config

    extra = [f"data.path={data_path}"] if data_path else []
    cfg = compose([*overrides, "tracker=none", *extra])
    result = run_config(
        cfg, name=title, title=title, results_dir=results_dir, quiet=True, progress=False,
        out=io.StringIO(),
    )  # fmt: skip
    return result.metrics


def matches(row: Published | Published2025, metrics: dict[str, Any]) -> bool:
    """Equal to the displayed precision of the figures the row was published with ($0.01,
    0.01 RMSLE, 0.1% hits; the 2025 rows: error only)."""
    return same_figures(row.metrics, metrics)


class _Parser(argparse.ArgumentParser):
    """argparse, with a usage error in one line (``pricebench-reproduce: error: ...``, exit 2)."""

    def error(self, message: str) -> NoReturn:
        print(f"{self.prog}: error: {message} (see {self.prog} --help)", file=sys.stderr)
        sys.exit(2)


def main(argv: Sequence[str] | None = None) -> None:
    """The ``pricebench-reproduce`` console script."""
    parser = _Parser(prog="pricebench-reproduce", description=__doc__.split("\n\n")[0])
    parser.add_argument("--recordings", help="a folder of <reported predictor name>.csv recordings")
    parser.add_argument(
        "--results", default="results", help="the results folder (default: results)"
    )
    parser.add_argument("--data", help="data.path for the test items (default: PRICEBENCH_DATA)")
    parser.add_argument(
        "--edition", choices=tuple(EDITIONS), default=DEFAULT_EDITION,
        help="the course edition whose published table to reproduce (default: 2024)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    recordings = Path(args.recordings) if args.recordings else None
    if recordings is not None and not recordings.is_dir():
        print(f"pricebench-reproduce: error: no folder {recordings}", file=sys.stderr)
        sys.exit(2)
    published, _, _ = BY_EDITION[args.edition]
    mismatched, reproduced = [], 0
    for row in published:
        overrides = overrides_for(row, recordings)
        if overrides is None:
            print(f"{row.predictor:28s} reported   {row.line}")
            print(f"{'':28s} not reproducible here: {why_not(row)}")
            continue
        try:
            metrics = run_row(overrides, row.predictor, args.results, args.data)
        except PricebenchError as exc:
            print(f"pricebench-reproduce: error: {row.predictor}: {exc}", file=sys.stderr)
            sys.exit(2)
        reproduced += 1
        if args.edition == DEFAULT_EDITION:
            line = metrics["summary_line"].removeprefix(row.predictor).strip()
        else:
            line = figures(metrics, args.edition)
        verdict = "match" if matches(row, metrics) else "MISMATCH"
        if verdict != "match":
            mismatched.append(row.predictor)
        print(f"{row.predictor:28s} reported   {row.line}\n{'':28s} reproduced {line}  {verdict}")
    print(f"{reproduced} of {len(published)} rows reproduced, {len(mismatched)} mismatched")
    if mismatched:
        print(f"pricebench-reproduce: error: mismatch in {', '.join(mismatched)}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
