"""``pricebench-reproduce``: reproduce the course's published table, row by row.

Random (seed 42) and constant (220.46) are recomputed; every row whose recording is given
(``--recordings DIR`` with ``<reported predictor name>.csv``, columns ``index,guess``) is replayed;
the rest are listed as not reproducible here, with the reason. Every run goes to the results
store, so it also appears on the leaderboard. Exit 0 only when every reproducible row matches to
the displayed precision.
"""

from __future__ import annotations

import argparse
import io
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harness.errors import PricebenchError
from harness.metrics import same_figures
from harness.published import PUBLISHED, Published

RECOMPUTED = {
    "random": ["predictor=random", "predictor.seed=42"],
    "constant": ["predictor=constant", "predictor.value=220.46"],
}
TRAINED_ON_400K = {"linear_regression", "bow_lr", "word2vec_lr", "svr", "random_forest"}


def why_not(row: Published) -> str:
    if row.predictor in TRAINED_ON_400K:
        return ("trained on the 400,000-item training split (hub only) and no recording of its "
                "guesses was given")  # fmt: skip
    if row.recording:
        return f"its recording {row.recording} was not given (--recordings DIR)"
    return "calls a hosted model and no recording of its guesses was published"


def overrides_for(row: Published, recordings: Path | None) -> list[str] | None:
    if row.predictor in RECOMPUTED:
        return RECOMPUTED[row.predictor]
    if recordings is not None and (recordings / f"{row.predictor}.csv").is_file():
        return ["predictor=replay", f"predictor.path={recordings / f'{row.predictor}.csv'}"]
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


def matches(row: Published, metrics: dict[str, Any]) -> bool:
    """Equal to the displayed precision of the course's figures ($0.01, 0.01 RMSLE, 0.1% hits)."""
    return same_figures(row.metrics, metrics)


def main(argv: Sequence[str] | None = None) -> None:
    """The ``pricebench-reproduce`` console script."""
    parser = argparse.ArgumentParser(
        prog="pricebench-reproduce", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--recordings", help="a folder of <reported predictor name>.csv recordings")
    parser.add_argument(
        "--results", default="results", help="the results folder (default: results)"
    )
    parser.add_argument("--data", help="data.path for the test items (default: PRICEBENCH_DATA)")
    args = parser.parse_args(argv)
    recordings = Path(args.recordings) if args.recordings else None
    if recordings is not None and not recordings.is_dir():
        print(f"pricebench-reproduce: error: no folder {recordings}", file=sys.stderr)
        sys.exit(2)
    mismatched, reproduced = [], 0
    for row in PUBLISHED:
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
        line = metrics["summary_line"].removeprefix(row.predictor).strip()
        verdict = "match" if matches(row, metrics) else "MISMATCH"
        if verdict != "match":
            mismatched.append(row.predictor)
        print(f"{row.predictor:28s} reported   {row.line}\n{'':28s} reproduced {line}  {verdict}")
    print(f"{reproduced} of {len(PUBLISHED)} rows reproduced, {len(mismatched)} mismatched")
    if mismatched:
        print(f"pricebench-reproduce: error: mismatch in {', '.join(mismatched)}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
