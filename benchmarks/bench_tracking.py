"""Extra wall time of `tracker=wandb` (offline) over `tracker=none`, constant predictor, end to end.

Usage: python benchmarks/bench_tracking.py [--repeat N]. Target: <= +1.0 s.
"""

from __future__ import annotations

import argparse
import os
import statistics

from bench_cli import time_command

BASE = ["predictor=constant", "predictor.value=220.46", "quiet=true"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    os.environ.pop("WANDB_API_KEY", None)
    os.environ["WANDB_MODE"] = "offline"
    none, wandb = [], []
    for _ in range(args.repeat):  # interleaved, so drift in machine load hits both alike
        none += time_command([*BASE, "tracker=none"], 1)
        wandb += time_command([*BASE, "tracker=wandb"], 1)
    median_none, median_wandb = statistics.median(none), statistics.median(wandb)
    print(f"constant predictor end to end, {args.repeat} runs each")
    print(f"  tracker=none           median {median_none:.2f} s  min {min(none):.2f} s")
    print(f"  tracker=wandb offline  median {median_wandb:.2f} s  min {min(wandb):.2f} s")
    print(f"  extra for W&B          {median_wandb - median_none:+.2f} s (target <= +1.00 s)")


if __name__ == "__main__":
    main()
