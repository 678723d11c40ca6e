"""250 items through `pricebench predictor=gpt-4o-mini` against a loopback OpenAI-compatible server
that answers after 100 ms: concurrency 1, 16 and 32, then a rerun served from the cache.

Usage: python benchmarks/bench_llm.py [--latency 0.1] [--skip-serial]
Targets: at 16 and 32, the request phase (first request sent to last reply, as the server sees
it) <= 1.25 x ceil(250/C) x latency, start-up (process start, imports, data, client) apart;
cached rerun <= 0.3 s of harness (predict) time.
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness import results  # noqa: E402
from tests.openai_server import FakeOpenAI, Reply  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "pricer"
N = 250


def run(server: FakeOpenAI, tmp: Path, concurrency: int, cache: Path) -> tuple[float, dict, float]:
    env = {**os.environ, "PRICEBENCH_DATA": os.environ.get("PRICEBENCH_DATA", str(DATA)),
           "OPENAI_API_KEY": "bench"}  # fmt: skip
    out = tmp / f"results-{concurrency}-{time.monotonic_ns()}"
    seen = len(server.requests)
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "harness.cli", "predictor=gpt-4o-mini", "quiet=true",
         "tracker=none", "chart=false", f"predictor.base_url={server.base_url}",
         f"predictor.concurrency={concurrency}", f"cache.dir={cache}", f"results.dir={out}"],
        cwd=tmp, env=env, check=True, capture_output=True,
    )  # fmt: skip
    wall = time.perf_counter() - started
    times = [r["time"] for r in server.requests[seen:]]
    span = max(times) - min(times) + server.latency if times else 0.0
    return wall, results.read_metrics(results.finished_runs(out)[0]), span


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--skip-serial", action="store_true", help="skip concurrency 1 (25 s)")
    args = parser.parse_args()
    levels = [16, 32] if args.skip_serial else [1, 16, 32]
    print(f"{N} items, server latency {args.latency * 1000:.0f} ms")
    print(
        f"  {'run':14s} {'requests phase':>14s} {'target':>7s} {'predict':>8s} {'wall':>6s} "
        f"{'requests':>8s} {'p50':>6s}"
    )
    with (
        tempfile.TemporaryDirectory() as tmp,
        FakeOpenAI(chat=lambda body, n: Reply(text="100"), latency=args.latency) as server,
    ):
        root = Path(tmp)
        for concurrency in levels:
            wall, metrics, span = run(server, root, concurrency, root / f"cache-{concurrency}")
            predict = metrics["timings"]["predict_seconds"]
            target = 1.25 * math.ceil(N / concurrency) * args.latency
            print(
                f"  concurrency {concurrency:<2d} {span:13.2f}s {target:6.2f}s {predict:7.2f}s "
                f"{wall:5.2f}s {metrics['requests']:8d} {metrics['latency_p50'] * 1000:4.0f}ms"
            )
        wall, metrics, _ = run(server, root, levels[-1], root / f"cache-{levels[-1]}")
        predict = metrics["timings"]["predict_seconds"]
        print(
            f"  {'cached rerun':14s} {'-':>14s} {0.3:6.2f}s {predict:7.2f}s {wall:5.2f}s "
            f"{metrics['requests']:8d}  ({metrics['cache_hits']} cache hits)"
        )


if __name__ == "__main__":
    main()
