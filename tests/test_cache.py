"""The response cache: stable keys, durable puts, and many writers on one file at once."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from harness.cache import ResponseCache
from harness.errors import PricebenchError

ROOT = Path(__file__).resolve().parents[1]
BASE_URL = "https://api.example.com/v1"
MODEL = "gpt-4o-mini"
REQUEST = {
    "messages": [{"role": "user", "content": "How much does this cost? Ünïcode ☃"}],
    "temperature": 0.0,
    "seed": 42,
    "max_tokens": 5,
}


def run_python(code: str, *args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def test_key_is_stable_and_ignores_dict_order_and_trailing_slash() -> None:
    key = ResponseCache.key(BASE_URL, MODEL, REQUEST)
    assert re.fullmatch(r"[0-9a-f]{64}", key), key
    # sha256 of canonical JSON: the same key in every process and every Python version, so a
    # cache written by an earlier run is read again (a changed key would ask, and pay, again)
    assert key == "0bd9972a0db15e6d90fb5210f20d0ed49e323f32d4fb5a7be3953f8cb78a1ef5"
    # an equal request built afresh, its keys (nested ones too) in another order
    reordered = dict(reversed(json.loads(json.dumps(REQUEST)).items()))
    reordered["messages"] = [dict(reversed(m.items())) for m in reordered["messages"]]
    assert list(reordered) != list(REQUEST)
    assert ResponseCache.key(BASE_URL, MODEL, reordered) == key
    assert ResponseCache.key(BASE_URL + "/", MODEL, REQUEST) == key


@pytest.mark.parametrize(
    ("base_url", "model", "change"),
    [
        ("https://other.example.com/v1", MODEL, {}),
        (BASE_URL, "gpt-4o", {}),
        (BASE_URL, MODEL, {"messages": [{"role": "user", "content": "How much?"}]}),
        (BASE_URL, MODEL, {"temperature": 0.7}),
        (BASE_URL, MODEL, {"seed": 43}),
        (BASE_URL, MODEL, {"max_tokens": 6}),
        (BASE_URL, MODEL, {"top_p": 1.0}),
    ],
)
def test_key_changes_with_any_part_of_the_request(base_url: str, model: str, change: dict) -> None:
    assert ResponseCache.key(base_url, model, {**REQUEST, **change}) != ResponseCache.key(
        BASE_URL, MODEL, REQUEST
    )


def test_put_get_round_trip_and_len(tmp_path: Path) -> None:
    entry = {"text": "Price is $12.99 ☃", "tokens": {"in": 30, "out": 4}, "cost": 1e-5}
    with ResponseCache(tmp_path / "cache") as cache:
        assert cache.get("missing") is None and len(cache) == 0
        cache.put("a", entry)
        cache.put("b", {"text": "1"})
        cache.put("b", {"text": "2"})  # replaces
        assert cache.get("a") == entry and cache.get("b") == {"text": "2"}
        assert len(cache) == 2
    assert ResponseCache(tmp_path / "cache").get("a") == entry  # persisted, and reopens


def test_file_is_created_lazily_in_wal_mode(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path / "nested" / "cache")
    assert cache.path == tmp_path / "nested" / "cache" / "responses.sqlite3"
    assert not (tmp_path / "nested").exists()
    cache.put("k", {"text": "1"})
    assert cache.path.is_file()
    cache.close()
    with sqlite3.connect(cache.path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        columns = [row[1] for row in conn.execute("PRAGMA table_info(responses)")]
    assert columns == ["key", "value", "created_at"]


@pytest.mark.parametrize("mask", [0o002, 0o022, 0o077])
def test_the_cache_file_follows_the_umask(tmp_path: Path, mask: int) -> None:
    """A cache shared by a group (umask 002) is writable by the group, like any Unix tool's."""
    saved = os.umask(mask)
    try:
        with ResponseCache(tmp_path / "cache") as cache:
            cache.put("k", {"text": "1"})
            modes = {p.name: p.stat().st_mode & 0o777 for p in cache.path.parent.iterdir()}
    finally:
        os.umask(saved)
    assert modes["responses.sqlite3"] == 0o666 & ~mask, modes


def test_home_is_expanded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    assert ResponseCache("~/cache").path == tmp_path / "cache" / "responses.sqlite3"


def test_disabled_cache_stores_nothing_and_creates_no_file(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path / "cache", enabled=False)
    cache.put("k", {"text": "1"})
    assert cache.get("k") is None and len(cache) == 0
    cache.close()
    assert not (tmp_path / "cache").exists()


def test_put_survives_sigkill_right_after_it_returns(tmp_path: Path) -> None:
    proc = run_python(
        """
        import os, signal, sys
        from harness.cache import ResponseCache
        ResponseCache(sys.argv[1]).put("k", {"text": "kept"})
        os.kill(os.getpid(), signal.SIGKILL)
        """,
        str(tmp_path),
    )
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == -9, stderr
    assert ResponseCache(tmp_path).get("k") == {"text": "kept"}


def test_processes_write_one_cache_at_once(tmp_path: Path) -> None:
    start = time.time() + 1.0  # every process creates and writes the (new) file together
    code = """
        import sys, time
        from harness.cache import ResponseCache
        directory, worker, start = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
        while time.time() < start:
            time.sleep(0.001)
        with ResponseCache(directory) as cache:
            for i in range(200):
                cache.put(f"w{worker}-{i}", {"worker": worker, "i": i})
                if i % 4 == 0:
                    cache.put(f"shared-{i // 4}", {"i": i // 4})
                    assert cache.get(f"w{worker}-{i}") == {"worker": worker, "i": i}
        """
    procs = [run_python(code, str(tmp_path), str(w), str(start)) for w in range(4)]
    for proc in procs:
        _, stderr = proc.communicate(timeout=60)
        assert proc.returncode == 0, stderr
    with ResponseCache(tmp_path) as cache:
        assert len(cache) == 4 * 200 + 50
        for worker in range(4):
            for i in range(200):
                assert cache.get(f"w{worker}-{i}") == {"worker": worker, "i": i}
        assert all(cache.get(f"shared-{i}") == {"i": i} for i in range(50))


def test_threads_share_one_cache(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path)
    barrier = threading.Barrier(8)

    def work(thread: int) -> int:
        barrier.wait()
        for i in range(100):
            cache.put(f"t{thread}-{i}", {"thread": thread, "i": i})
            cache.put(f"shared-{i % 10}", {"i": i % 10})
            assert cache.get(f"t{thread}-{i}") == {"thread": thread, "i": i}
            len(cache)
        return thread

    with ThreadPoolExecutor(8) as pool:
        assert sorted(pool.map(work, range(8))) == list(range(8))
    assert len(cache) == 8 * 100 + 10
    cache.close()


def test_corrupt_file_names_the_file_and_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "responses.sqlite3"
    path.write_bytes(os.urandom(64) + b"definitely not sqlite" * 200)
    cache = ResponseCache(tmp_path)
    for use in (lambda: cache.get("k"), lambda: cache.put("k", {}), lambda: len(cache)):
        with pytest.raises(PricebenchError, match="cache.enabled=false") as info:
            use()
        assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_unwritable_directory_names_the_path_and_the_fix(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("")
    cache = ResponseCache(tmp_path / "a-file" / "cache")
    with pytest.raises(PricebenchError, match="cache.dir=") as info:
        cache.put("k", {"text": "1"})
    assert str(cache.path) in str(info.value) and "\n" not in str(info.value)
