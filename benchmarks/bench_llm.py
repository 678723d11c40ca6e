"""250 items through `pricebench predictor=gpt-4o-mini` against a loopback OpenAI-compatible server
that answers after 100 ms: concurrency 1, 16 and 32, then a rerun served from the cache; the same
250 items through the Batch API (`predictor.batch=true`), then rerun from the cache; and how long
the circuit breaker takes, with the default settings (`predictor.timeout=30`,
`predictor.max_retries=2`, `predictor.circuit_breaker=3`), to stop a run against an endpoint that
never answers and against a closed port.

Usage: python benchmarks/bench_llm.py [--latency 0.1] [--batch-poll 0.5] [--skip-serial]
                                      [--skip-breaker]
Targets: at 16 and 32, the request phase (first request sent to last reply, as the server sees
it) <= 1.25 x ceil(250/C) x latency, start-up (process start, imports, data, client) apart;
cached rerun <= 0.3 s of harness (predict) time. Batch path: 0 direct chat requests, all 250
answered in one batch; its cached rerun makes no new batch. Circuit breaker (process start to
exit, one `pricebench: error:` line): never answering <= 150 s, closed port <= 15 s.
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
from tests.openai_server import FakeOpenAI, Reply, SilentServer, closed_port  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "pricer"
N = 250
TIMEOUT = 300.0  # seconds before a hung run is killed


def pricebench(tmp: Path, base_url: str, cache: Path, *overrides: str, check: bool = True):
    """Run the CLI on gpt-4o-mini at ``base_url``: (wall seconds, completed process, out dir).

    A run still going after TIMEOUT seconds is killed; its process has ``returncode`` None."""
    env = {**os.environ, "PRICEBENCH_DATA": os.environ.get("PRICEBENCH_DATA", str(DATA)),
           "OPENAI_API_KEY": "bench"}  # fmt: skip
    out = tmp / f"results-{time.monotonic_ns()}"
    command = [sys.executable, "-m", "harness.cli", "predictor=gpt-4o-mini", "quiet=true",
               "tracker=none", "chart=false", f"predictor.base_url={base_url}",
               f"cache.dir={cache}", f"results.dir={out}", *overrides]  # fmt: skip
    started = time.perf_counter()
    try:
        done = subprocess.run(
            command, cwd=tmp, env=env, capture_output=True, text=True, timeout=TIMEOUT
        )
    except subprocess.TimeoutExpired as exc:
        stderr = exc.stderr.decode() if isinstance(exc.stderr, bytes) else exc.stderr or ""
        done = subprocess.CompletedProcess(command, None, "", stderr)  # type: ignore[arg-type]
    wall = time.perf_counter() - started
    if check and done.returncode != 0:
        sys.exit(f"pricebench failed ({done.returncode}) after {wall:.1f} s:\n{done.stderr}")
    return wall, done, out


def metrics_of(out: Path) -> dict:
    return results.read_metrics(results.finished_runs(out)[0])


def run(server: FakeOpenAI, tmp: Path, concurrency: int, cache: Path) -> tuple[float, dict, float]:
    seen = len(server.requests)
    wall, _, out = pricebench(tmp, server.base_url, cache, f"predictor.concurrency={concurrency}")
    times = [r["time"] for r in server.requests[seen:]]
    span = max(times) - min(times) + server.latency if times else 0.0
    return wall, metrics_of(out), span


def concurrency_section(root: Path, latency: float, levels: list[int]) -> None:
    print(
        f"  {'run':14s} {'requests phase':>14s} {'target':>7s} {'predict':>8s} {'wall':>6s} "
        f"{'requests':>8s} {'p50':>6s}"
    )
    with FakeOpenAI(chat=lambda body, n: Reply(text="100"), latency=latency) as server:
        for concurrency in levels:
            wall, metrics, span = run(server, root, concurrency, root / f"cache-{concurrency}")
            predict = metrics["timings"]["predict_seconds"]
            target = 1.25 * math.ceil(N / concurrency) * latency
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


def batch_section(root: Path, latency: float, poll: float) -> None:
    print(f"batch path: predictor.batch=true, polled every {poll:g} s")
    print(
        f"  {'run':14s} {'direct':>6s} {'batched':>7s} {'polls':>5s} {'batches':>7s} "
        f"{'predict':>8s} {'wall':>6s} {'requests':>8s} {'cost':>8s}"
    )
    cache = root / "cache-batch"
    overrides = ("predictor.batch=true", f"predictor.batch_poll_seconds={poll}")
    with FakeOpenAI(
        chat=lambda body, n: Reply(text="100"), latency=latency, batch_polls=1
    ) as server:
        for name in ("batch", "cached rerun"):
            seen, batches = len(server.requests), len(server.batches)
            answered = len(server.batch_chat_requests())
            wall, _, out = pricebench(root, server.base_url, cache, *overrides)
            metrics = metrics_of(out)
            polls = sum(
                r["method"] == "GET" and r["path"].startswith("/v1/batches/")
                for r in server.requests[seen:]
            )
            cost = f"${metrics['cost']:.4f}"
            print(
                f"  {name:14s} {len(server.chat_requests()):6d} "
                f"{len(server.batch_chat_requests()) - answered:7d} {polls:5d} "
                f"{len(server.batches) - batches:7d} {metrics['timings']['predict_seconds']:7.2f}s "
                f"{wall:5.2f}s {metrics['requests']:8d} {cost:>8s}"
            )
            print(
                f"  {'':14s} metrics.json: batches {metrics['batches']}, "
                f"batch_polls {metrics['batch_polls']}, cache_hits {metrics['cache_hits']}"
            )
    print("  targets: direct 0, batched 250 in 1 batch; cached rerun: 0 batched, 0 batches")


def breaker_section(root: Path, skip_silent: bool) -> None:
    print("circuit breaker, default settings (timeout 30 s, 2 retries, breaker 3)")
    print(f"  {'endpoint':14s} {'wall':>7s} {'target':>7s} {'exit':>4s} {'connections':>11s}")
    cases = [] if skip_silent else [("never answers", 150.0)]
    cases.append(("closed port", 15.0))
    for name, target in cases:
        cache = Path(tempfile.mkdtemp(prefix="cache-breaker-", dir=root))
        if name == "never answers":
            with SilentServer() as silent:
                wall, done, _ = pricebench(root, silent.base_url, cache, check=False)
                connections = str(silent.connections)
        else:
            url = f"http://127.0.0.1:{closed_port()}/v1"
            wall, done, _ = pricebench(root, url, cache, check=False)
            connections = "-"
        code = "hung" if done.returncode is None else str(done.returncode)
        print(f"  {name:14s} {wall:6.1f}s {target:6.0f}s {code:>4s} {connections:>11s}")
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        errors = [line for line in lines if line.startswith("pricebench: error:")]
        print(f"  {'':14s} {errors[-1] if errors else '(no error line)'}")
        if len(lines) != len(errors) or len(errors) != 1:
            print(f"  {'':14s} stderr had {len(lines)} line(s), {len(errors)} error line(s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--batch-poll", type=float, default=0.5, help="seconds between polls")
    parser.add_argument("--skip-serial", action="store_true", help="skip concurrency 1 (25 s)")
    parser.add_argument(
        "--skip-breaker", action="store_true", help="skip the never-answering endpoint (95 s)"
    )
    args = parser.parse_args()
    levels = [16, 32] if args.skip_serial else [1, 16, 32]
    print(f"{N} items, server latency {args.latency * 1000:.0f} ms")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        concurrency_section(root, args.latency, levels)
        batch_section(root, args.latency, args.batch_poll)
        breaker_section(root, args.skip_breaker)


if __name__ == "__main__":
    main()
