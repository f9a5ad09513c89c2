"""A key -> text table in an SQLite file: what the response cache and the judge cache share.

WAL mode lets several processes (shards on one machine) share one file; each
``put_many`` is one transaction, so a kill leaves the table consistent. Several tables
may live in one file (the response cache and the judge cache do), each store holding its
own connection.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable
from pathlib import Path

from lingshu.core.errors import UserError

_CHUNK = 500
"""Keys per SELECT: stays under SQLite's limit on bound variables."""


class SqliteTextStore:
    """``key -> value`` strings in table ``table`` (columns ``key``, ``value_column``,
    ``created``); thread-safe."""

    def __init__(self, path: Path, table: str, value_column: str) -> None:
        self.path = Path(path)
        self._table, self._column = table, value_column
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(self.path), timeout=60, check_same_thread=False)
        except (OSError, sqlite3.Error) as e:
            raise _unusable(self.path, e) from None
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(
                f"CREATE TABLE IF NOT EXISTS {table} ("
                f" key TEXT PRIMARY KEY, {value_column} TEXT NOT NULL,"
                " created REAL NOT NULL DEFAULT (julianday('now')))"
            )
            self._db.commit()
        except sqlite3.Error as e:
            self._db.close()
            raise _unusable(self.path, e) from None

    def get_many(self, keys: Iterable[str]) -> dict[str, str]:
        """The stored value of each key that has one."""
        keys = list(dict.fromkeys(keys))
        found: dict[str, str] = {}
        with self._lock:
            for i in range(0, len(keys), _CHUNK):
                chunk = keys[i : i + _CHUNK]
                marks = ",".join("?" * len(chunk))
                rows = self._db.execute(
                    f"SELECT key, {self._column} FROM {self._table} WHERE key IN ({marks})",
                    chunk,
                ).fetchall()
                found.update(rows)
        return found

    def put_many(self, rows: Iterable[tuple[str, str]]) -> None:
        """Insert or replace ``(key, value)`` rows in one transaction."""
        rows = list(rows)
        if not rows:
            return
        with self._lock, self._db:
            self._db.executemany(
                f"INSERT OR REPLACE INTO {self._table} (key, {self._column}) VALUES (?, ?)",
                rows,
            )

    def __len__(self) -> int:
        with self._lock:
            return self._db.execute(f"SELECT COUNT(*) FROM {self._table}").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _unusable(path: Path, e: BaseException) -> UserError:
    """A cache file that is not SQLite, or a place that cannot be written, as one line."""
    if isinstance(e, sqlite3.DatabaseError) and "not a database" in str(e):
        why = "not an SQLite file"
    elif path.is_dir():
        why = "a directory, not a file"
    elif any(p.exists() and not p.is_dir() for p in path.parents):
        blocker = next(p for p in path.parents if p.exists() and not p.is_dir())
        why = f"{blocker} is a file, not a folder"
    elif isinstance(e, OSError) and e.strerror:
        why = f"cannot be created there ({e.strerror})"
    else:
        why = f"cannot be opened for writing ({e})"
    return UserError(
        f"cache {path}: {why}; pass another file with --cache, or --no-cache to run without one"
    )
