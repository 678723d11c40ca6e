"""The LLM response cache: one SQLite file shared by every LLM predictor, run and process.

Entries are keyed by :meth:`ResponseCache.key` (the endpoint, the model and the full request body,
never an API key) and hold whatever JSON the predictor stores: the reply text, tokens, cost.
The database runs in WAL mode with a busy timeout, so the jobs of a parallel multirun can read and
write the same file at once, and every ``put`` is its own committed transaction, so an entry
survives the process being killed right after ``put`` returns.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness.errors import PricebenchError

FILE_NAME = "responses.sqlite3"
TIMEOUT_S = 30.0
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS responses "
    "(key TEXT PRIMARY KEY, value TEXT NOT NULL, created_at TEXT NOT NULL)"
)
# Batch API jobs in flight, keyed by the set of requests they answer, so a rerun resumes the
# same batch instead of paying for a second one.
_BATCH_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS batches "
    "(key TEXT PRIMARY KEY, batch_id TEXT NOT NULL, created_at TEXT NOT NULL)"
)


class ResponseCache:
    """A persistent map from request key to stored reply; a no-op when ``enabled`` is false."""

    def __init__(self, directory: str | Path, enabled: bool = True) -> None:
        self.directory = Path(directory).expanduser()
        self.enabled = enabled
        self._conn: sqlite3.Connection | None = None
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self.unreadable: dict[str, str] = {}  # key -> why its stored value could not be used

    @property
    def path(self) -> Path:
        """The database file, ``<directory>/responses.sqlite3`` (it may not exist yet)."""
        return self.directory / FILE_NAME

    @staticmethod
    def key(base_url: str, model: str, request: Mapping[str, Any]) -> str:
        """The sha256 of the endpoint, model and full request body, as canonical JSON."""
        payload = {"base_url": base_url.rstrip("/"), "model": model, "request": request}
        text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def get(self, key: str) -> dict[str, Any] | None:
        """The entry stored under ``key``, or None (always None when the cache is disabled).

        A stored value that is not a JSON object is taken as absent, and noted in
        :attr:`unreadable` (the next ``put`` under its key replaces it)."""
        if not self.enabled:
            return None
        rows = self._query("SELECT value FROM responses WHERE key = ?", (key,))
        if not rows:
            return None
        try:
            entry = json.loads(rows[0][0])
        except (TypeError, ValueError) as exc:
            self.note_unreadable(key, f"not JSON: {str(exc).splitlines()[0][:80]}")
            return None
        if not isinstance(entry, dict):
            self.note_unreadable(key, f"not a JSON object but {type(entry).__name__}")
            return None
        return entry

    def note_unreadable(self, key: str, why: str) -> None:
        """Note that the entry under ``key`` cannot be used, and why (the first reason kept)."""
        self.unreadable.setdefault(key, why)

    def put(self, key: str, entry: Mapping[str, Any]) -> None:
        """Store ``entry`` (JSON-serialisable) under ``key``, committed before this returns."""
        if not self.enabled:
            return
        value = json.dumps(entry)
        created_at = datetime.now(UTC).isoformat(timespec="seconds")
        self._query(
            "INSERT OR REPLACE INTO responses (key, value, created_at) VALUES (?, ?, ?)",
            (key, value, created_at),
        )

    def get_batch(self, key: str) -> str | None:
        """The id of the batch submitted for the requests behind ``key``, if one is pending."""
        if not self.enabled:
            return None
        rows = self._query("SELECT batch_id FROM batches WHERE key = ?", (key,))
        return str(rows[0][0]) if rows else None

    def put_batch(self, key: str, batch_id: str) -> None:
        """Remember that ``batch_id`` answers the requests behind ``key``."""
        if self.enabled:
            created_at = datetime.now(UTC).isoformat(timespec="seconds")
            self._query(
                "INSERT OR REPLACE INTO batches (key, batch_id, created_at) VALUES (?, ?, ?)",
                (key, batch_id, created_at),
            )

    def drop_batch(self, key: str) -> None:
        """Forget the batch behind ``key`` (it ended, and its answers are stored)."""
        if self.enabled:
            self._query("DELETE FROM batches WHERE key = ?", (key,))

    def __len__(self) -> int:
        if not self.enabled:
            return 0
        return self._query("SELECT COUNT(*) FROM responses")[0][0]

    def close(self) -> None:
        """Close the database; the next ``get`` or ``put`` opens it again."""
        with self._lock:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn = None

    def __enter__(self) -> ResponseCache:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"ResponseCache({str(self.directory)!r}, enabled={self.enabled})"

    def _query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            conn = self._connection()
            try:
                return conn.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise self._error(exc) from exc

    def _connection(self) -> sqlite3.Connection:
        if self._pid != os.getpid():  # a forked child must not share its parent's connection
            self._conn, self._pid = None, os.getpid()
        if self._conn is None:
            self._conn = self._open()
        return self._conn

    def _open(self) -> sqlite3.Connection:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            # SQLite creates its files 0644 less the umask; create the database file first with
            # 0666 less the umask, as any Unix tool would (its -wal and -shm files copy its mode).
            os.close(os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666))
        except OSError as exc:
            raise self._error(exc) from exc
        deadline = time.monotonic() + TIMEOUT_S
        while True:  # creating the file races with other processes doing the same: retry briefly
            conn = None
            try:
                conn = sqlite3.connect(
                    self.path, timeout=TIMEOUT_S, isolation_level=None, check_same_thread=False
                )
                if _configure(conn):
                    return conn
                problem: Exception = sqlite3.OperationalError("SQLite would not switch to WAL")
                retry = True
            except sqlite3.Error as exc:
                problem = exc
                retry = isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc)
            if conn is not None:
                conn.close()
            if not retry or time.monotonic() > deadline:
                raise self._error(problem) from problem
            time.sleep(0.05)

    def _error(self, exc: Exception) -> PricebenchError:
        fix = "set cache.dir=<a writable folder> or cache.enabled=false"
        if isinstance(exc, sqlite3.DatabaseError) and not isinstance(exc, sqlite3.OperationalError):
            return PricebenchError(
                f"response cache {self.path} is corrupt or not a SQLite database ({exc}): "
                f"delete the file, or {fix}"
            )
        return PricebenchError(f"cannot use the response cache {self.path} ({exc}): {fix}")


def _configure(conn: sqlite3.Connection) -> bool:
    """Set the pragmas and create the table; False when SQLite would not switch to WAL."""
    conn.execute(f"PRAGMA busy_timeout={int(TIMEOUT_S * 1000)}")
    # The switch needs a moment's exclusive lock, so only ask when the file is not in WAL yet;
    # SQLite refuses a switch by returning the old mode, not by raising.
    mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
    if mode.lower() != "wal":
        mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
    if mode.lower() != "wal":
        return False
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(_SCHEMA)
    conn.execute(_BATCH_SCHEMA)
    return True
