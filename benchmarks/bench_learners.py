"""Fit time and peak memory of the offline learners (ridge, knn, gbm) on generated training files.

    .venv/bin/python benchmarks/bench_learners.py            # 2k and 20k items
    .venv/bin/python benchmarks/bench_learners.py 400000     # any sizes

Each size gets a train.jsonl in the project's schema (index, title, price, text, category) in a
temporary folder: descriptions of ~700 characters drawn from a vocabulary that grows with the size
(so 400k items have far more distinct words and model numbers than 2k), and prices tied to some
of the words. Every measurement runs in a child process of its own: first one that only loads
the items (its peak RSS is the cost of the items themselves), then one per learner that loads and
fits; the fit's figure is its peak RSS minus the loading one's, beside the whole peak.
"""

from __future__ import annotations

import itertools
import json
import math
import random
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LEARNERS = ("ridge", "knn", "gbm")
CATEGORIES = ("Automotive", "Electronics", "Tools_and_Home_Improvement", "Toys_and_Games")
QUESTION = "How much does this cost to the nearest dollar?"


def write_items(path: Path, n: int, seed: int = 0) -> None:
    """``n`` items; a vocabulary of about 2,000 + 4 x sqrt(n) x 30 made-up words."""
    rng = random.Random(seed)
    vocabulary = [f"w{i}{chr(97 + i % 26)}" for i in range(2000 + int(120 * math.sqrt(n)))]
    weights = itertools.accumulate(1 / (rank + 1) for rank in range(len(vocabulary)))  # Zipf-like
    cumulative = list(weights)  # (once: choices() would add the weights up on every call)
    with path.open("w", encoding="utf-8") as handle:
        for index in range(n):
            words = rng.choices(vocabulary, cum_weights=cumulative, k=110)
            value = sum(len(w) for w in words[:5])
            price = round(math.exp(rng.gauss(math.log(20 + 10 * value), 0.6)), 2)
            title = " ".join(words[:8]) + f" Model {rng.randrange(10**6)}"
            body = " ".join(words[8:]) + f", Weight {rng.uniform(0.1, 40):.1f} Pounds"
            text = f"{QUESTION}\n\n{title}\n{body}\n\nPrice is $"
            row = {"index": index, "title": title, "price": price, "text": text,
                   "category": rng.choice(CATEGORIES)}  # fmt: skip
            handle.write(json.dumps(row) + "\n")


CHILD = """
import json, resource, sys, time
sys.path.insert(0, {root!r})
from harness.data import load_jsonl
items = load_jsonl({path!r})
loaded = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
name = {name!r}
start = time.perf_counter()
if name:
    import hydra.utils, omegaconf
    cfg = omegaconf.OmegaConf.load({root!r} + f"/conf/predictor/{{name}}.yaml")
    model = hydra.utils.instantiate(cfg).fit(items)
fit = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({{"loaded_kb": loaded, "peak_kb": peak, "fit_s": fit}}))
"""


def measure(path: Path, name: str) -> dict[str, float]:
    code = CHILD.format(root=str(ROOT), path=str(path), name=name)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main(sizes: list[int]) -> None:
    print(f"{'items':>8} {'learner':>8} {'fit s':>8} {'fit MB':>8} {'peak MB':>8} {'load MB':>8}")
    with tempfile.TemporaryDirectory() as folder:
        for n in sizes:
            path = Path(folder) / f"train_{n}.jsonl"
            write_items(path, n)
            base = measure(path, "")
            print(f"{n:>8} {'(load)':>8} {'':>8} {'':>8} {base['peak_kb'] / 1024:>8.0f} "
                  f"{base['loaded_kb'] / 1024:>8.0f}", flush=True)  # fmt: skip
            for name in LEARNERS:
                got = measure(path, name)
                fit_mb = (got["peak_kb"] - got["loaded_kb"]) / 1024
                print(f"{n:>8} {name:>8} {got['fit_s']:>8.1f} {fit_mb:>8.0f} "
                      f"{got['peak_kb'] / 1024:>8.0f} {got['loaded_kb'] / 1024:>8.0f}",
                      flush=True)  # fmt: skip


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [2_000, 20_000])
