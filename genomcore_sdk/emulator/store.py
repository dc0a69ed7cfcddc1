"""The emulator's storage: observations and idempotency records in one SQLite file.

Times are stored as integer microseconds since the Unix epoch (UTC), so
filters, sorts and windows compare exactly; they are answered as RFC 3339 in
UTC. One composite index serves the usual query (user, batch, metric, time)
and the delete; a second serves pure time windows.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from .filters import regexp_match

__all__ = ["ObservationRow", "ObservationStore", "format_instant"]

# (user_id, source, metric, external_id, batch, ts, end_ts, value)
ObservationRow = tuple[int, str, str, str, str, int, int, int]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS observations (
    id          INTEGER PRIMARY KEY,
    user_id     INTEGER NOT NULL,
    source      TEXT    NOT NULL,
    metric      TEXT    NOT NULL,
    external_id TEXT    NOT NULL,
    batch       TEXT    NOT NULL,
    ts          INTEGER NOT NULL,
    end_ts      INTEGER NOT NULL,
    value       INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS ix_observations_user_batch_metric_ts
    ON observations (user_id, batch, metric, ts);
CREATE INDEX IF NOT EXISTS ix_observations_ts ON observations (ts);
CREATE TABLE IF NOT EXISTS idempotency (
    key        TEXT PRIMARY KEY,
    body_hash  TEXT    NOT NULL,
    inserted   INTEGER NOT NULL,
    created_at REAL    NOT NULL
);
"""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_COLUMNS = "id, user_id, source, metric, external_id, batch, ts, end_ts, value"


def format_instant(micros: int) -> str:
    """RFC 3339 in UTC for microseconds since the epoch (fraction only when non-zero)."""
    moment = _EPOCH + timedelta(microseconds=micros)
    text = f"{moment.year:04d}" + moment.strftime("-%m-%dT%H:%M:%S")  # %Y drops zeros before 1000
    if moment.microsecond:
        text += f".{moment.microsecond:06d}"
    return text + "Z"


class IdempotencyConflict(Exception):
    """An Idempotency-Key was reused with a different request body."""


class ObservationStore:
    """Thread-safe SQLite storage for the emulator.

    Args:
        path: the database file; ``":memory:"`` for a throwaway store.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.executescript(_SCHEMA)
        self._conn.create_function("regexp_match", 3, regexp_match, deterministic=True)

    def close(self) -> None:
        """Close the database connection."""
        with self._lock:
            self._conn.close()

    def insert(
        self,
        rows: Sequence[ObservationRow],
        *,
        idempotency_key: str | None = None,
        body_hash: str = "",
        now: float = 0.0,
    ) -> tuple[int, bool]:
        """Store ``rows`` atomically; return (inserted count, whether this was a replay).

        With ``idempotency_key``, a key seen before answers the original count
        and stores nothing; a key seen with another body raises
        :class:`IdempotencyConflict`.
        """
        with self._lock:
            conn = self._conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                if idempotency_key is not None:
                    found = conn.execute(
                        "SELECT body_hash, inserted FROM idempotency WHERE key = ?",
                        (idempotency_key,),
                    ).fetchone()
                    if found is not None:
                        conn.execute("ROLLBACK")
                        if found[0] != body_hash:
                            raise IdempotencyConflict(idempotency_key)
                        return int(found[1]), True
                conn.executemany(
                    "INSERT INTO observations (user_id, source, metric, external_id, batch,"
                    " ts, end_ts, value) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    rows,
                )
                if idempotency_key is not None:
                    conn.execute(
                        "INSERT INTO idempotency (key, body_hash, inserted, created_at)"
                        " VALUES (?, ?, ?, ?)",
                        (idempotency_key, body_hash, len(rows), now),
                    )
                conn.execute("COMMIT")
            except IdempotencyConflict:
                raise
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            return len(rows), False

    def query(
        self, where: str, params: Sequence[Any], order_by: str, limit: int, offset: int
    ) -> tuple[list[dict[str, Any]], int]:
        """One page of matching observations as API dicts, and the total match count."""
        with self._lock:
            total = self._conn.execute(
                f"SELECT COUNT(*) FROM observations WHERE {where}", params
            ).fetchone()[0]
            rows = self._conn.execute(
                f"SELECT {_COLUMNS} FROM observations WHERE {where}"
                f" ORDER BY {order_by} LIMIT ? OFFSET ?",
                [*params, limit, offset],
            ).fetchall()
        return [_row_to_api(r) for r in rows], int(total)

    def delete(self, user_id: int, batch: str, metric: str) -> int:
        """Delete one user's observations of one batch and metric; return how many."""
        with self._lock:
            cur = self._conn.execute(
                "DELETE FROM observations WHERE user_id = ? AND batch = ? AND metric = ?",
                (user_id, batch, metric),
            )
            return cur.rowcount

    def count(self, where: str = "1", params: Sequence[Any] = ()) -> int:
        """How many stored observations match a SQL condition (for tests and tools)."""
        with self._lock:
            return int(
                self._conn.execute(
                    f"SELECT COUNT(*) FROM observations WHERE {where}", params
                ).fetchone()[0]
            )


def _row_to_api(row: tuple[Any, ...]) -> dict[str, Any]:
    start = format_instant(row[6])
    return {
        "id": str(row[0]),
        "timestamp": start,
        "meta": {
            "userId": row[1],
            "source": row[2],
            "metric": row[3],
            "externalId": row[4],
            "batch": row[5],
        },
        "point": {"start": start, "end": format_instant(row[7]), "value": row[8]},
    }
