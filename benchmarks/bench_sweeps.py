"""Four baseline jobs (the random forest on word2vec vectors, one core each, 10 trees, seeds 1-4)
as one multirun: the joblib launcher (2 workers) against the basic launcher.

Usage: python benchmarks/bench_sweeps.py [--repeat N]. Target: speed-up >= 1.6x on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "pricer"
JOBS = "predictor=random_forest predictor.n_jobs=1 predictor.n_estimators=10 predictor.seed=1,2,3,4"
LAUNCHERS = {
    "basic": [],
    "joblib (2 workers)": ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"],
}


def time_sweep(extra: list[str]) -> float:
    env = {**os.environ, "PRICEBENCH_DATA": os.environ.get("PRICEBENCH_DATA", str(DATA))}
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "harness.cli", "-m", *JOBS.split(), *extra, "quiet=true",
             "tracker=none", f"results.dir={tmp}/results"],
            cwd=tmp, env=env, check=True, capture_output=True,
        )  # fmt: skip
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    print(f"multirun {JOBS}, {args.repeat} runs each")
    medians = {}
    for label, extra in LAUNCHERS.items():
        times = [time_sweep(extra) for _ in range(args.repeat)]
        medians[label] = statistics.median(times)
        print(f"  {label:20s} median {medians[label]:.2f} s  min {min(times):.2f} s")
    basic, joblib = medians.values()
    print(f"  speed-up             {basic / joblib:.2f}x (target >= 1.6x)")


if __name__ == "__main__":
    main()
