"""Wall time of `pricebench predictor=constant` end to end (process start to exit).

Usage: python benchmarks/bench_cli.py [--repeat N]. Target: <= 1.5 s on the 2-core machine.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "pricer"
CASES = {
    "constant (training mean)": ["predictor=constant", "quiet=true", "tracker=none"],
    "constant value=220.46": ["predictor=constant", "predictor.value=220.46", "tracker=none"],
    "constant, per-item lines": ["predictor=constant", "tracker=none"],
}


def time_command(args: list[str], repeat: int) -> list[float]:
    exe = shutil.which("pricebench", path=str(Path(sys.executable).parent)) or shutil.which(
        "pricebench"
    )
    if exe is None:
        sys.exit("pricebench is not installed: pip install -e .")
    env = {**os.environ, "PRICEBENCH_DATA": os.environ.get("PRICEBENCH_DATA", str(DATA))}
    times = []
    with tempfile.TemporaryDirectory() as tmp:
        env["WANDB_DIR"] = tmp
        for _ in range(repeat + 1):  # the first run warms the OS file cache and is dropped
            started = time.perf_counter()
            subprocess.run([exe, *args, f"results.dir={tmp}/results"], cwd=tmp, env=env,
                           check=True, capture_output=True)  # fmt: skip
            times.append(time.perf_counter() - started)
    return times[1:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print(f"pricebench end to end, {args.repeat} runs each (target <= 1.50 s)")
    for label, case in CASES.items():
        times = time_command(case, args.repeat)
        print(
            f"  {label:28s} median {statistics.median(times):.2f} s  "
            f"min {min(times):.2f} s  max {max(times):.2f} s"
        )


if __name__ == "__main__":
    main()
