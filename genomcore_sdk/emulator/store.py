"""The emulator's storage: observations and idempotency records in one SQLite file.

Layout (``PRAGMA user_version`` 2):

* ``series``: one row per distinct meta (userId, source, metric, externalId,
  batch, and the JSON text of any other meta field), unique, with the span
  ``[min_ts, max_ts]`` of its points' times;
* ``points``: one row per observation: its series, ``ts`` (= ``point.start``)
  and ``end_ts`` as integer microseconds since the Unix epoch (UTC), ``value``,
  and the JSON text of any other point field (NULL when none);
* ``observations``: a view joining the two under the flat column names the
  query engine filters on (``id``, ``user_id``, ``source``, ``metric``,
  ``external_id``, ``batch``, ``ts``, ``end_ts``, ``value``, plus
  ``meta_extra``, ``point_extra``, ``series_min_ts``, ``series_max_ts``);
* ``idempotency``: the answer remembered per ``Idempotency-Key``.

Why this shape (measured, see ``benchmarks/emulator_ingest.py``): keeping the
meta once per series makes an insert bind four integers per observation, and
leaves ``points`` one integer index, ``(series_id, ts)``, which inserts append
to. Queries by user, batch, metric and time go through the unique index of
``series`` and then that index; a time window without a meta filter skips the
series whose span misses it and reads the others by ``(series_id, ts)``. A
global index on ``ts`` would serve that last case directly but doubles the
cost of an insert (each insert lands all over it), so there is none.

Times compare exactly as integers and are answered as RFC 3339 in UTC.

The database runs in WAL mode with ``synchronous=OFF``: a committed insert
survives the emulator being stopped or killed and restarted with the same file
(only an operating-system crash could lose the last commits, which an emulator
accepts for speed). A file of the earlier single-table layout is migrated on open.
"""

from __future__ import annotations

import operator
import sqlite3
import threading
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from itertools import compress
from typing import Any

import msgspec

from .filters import regexp_match
from .ingest import ParsedObservations, SeriesKey

__all__ = ["IDEMPOTENCY_TTL", "IdempotencyConflict", "ObservationStore", "format_instant"]

IDEMPOTENCY_TTL = 24 * 3600.0
"""Seconds an Idempotency-Key's answer is remembered (``openapi.yaml``: 24 hours)."""

_VERSION = 2
_SCHEMA = """
CREATE TABLE IF NOT EXISTS series (
    id          INTEGER PRIMARY KEY,
    user_id     INTEGER NOT NULL,
    source      TEXT    NOT NULL,
    metric      TEXT    NOT NULL,
    external_id TEXT    NOT NULL,
    batch       TEXT    NOT NULL,
    extra       TEXT    NOT NULL DEFAULT '',
    min_ts      INTEGER,
    max_ts      INTEGER
);
CREATE UNIQUE INDEX IF NOT EXISTS ux_series
    ON series (user_id, batch, metric, source, external_id, extra);
CREATE TABLE IF NOT EXISTS points (
    id        INTEGER PRIMARY KEY,
    series_id INTEGER NOT NULL REFERENCES series (id),
    ts        INTEGER NOT NULL,
    end_ts    INTEGER NOT NULL,
    value     INTEGER NOT NULL,
    extra     TEXT
);
CREATE INDEX IF NOT EXISTS ix_points_series_ts ON points (series_id, ts);
CREATE VIEW IF NOT EXISTS observations AS
    SELECT p.id AS id, s.user_id AS user_id, s.source AS source, s.metric AS metric,
           s.external_id AS external_id, s.batch AS batch, p.ts AS ts, p.end_ts AS end_ts,
           p.value AS value, s.extra AS meta_extra, p.extra AS point_extra,
           s.min_ts AS series_min_ts, s.max_ts AS series_max_ts
    FROM series AS s CROSS JOIN points AS p ON p.series_id = s.id;
CREATE TABLE IF NOT EXISTS idempotency (
    key        TEXT PRIMARY KEY,
    body_hash  TEXT    NOT NULL,
    inserted   INTEGER NOT NULL,
    created_at REAL    NOT NULL
);
"""

# Version 1 kept every observation in one table called ``observations``.
_MIGRATE_FROM_1 = """
INSERT INTO series (user_id, source, metric, external_id, batch, min_ts, max_ts)
    SELECT user_id, source, metric, external_id, batch, MIN(ts), MAX(ts) FROM observations_v1
    GROUP BY user_id, source, metric, external_id, batch;
INSERT INTO points (id, series_id, ts, end_ts, value)
    SELECT o.id, s.id, o.ts, o.end_ts, o.value
    FROM observations_v1 AS o JOIN series AS s
      ON s.user_id = o.user_id AND s.batch = o.batch AND s.metric = o.metric
     AND s.source = o.source AND s.external_id = o.external_id AND s.extra = '';
DROP TABLE observations_v1;
"""

# After an insert (whose rows have ids from ? on, the write lock being held), widen the
# [min_ts, max_ts] span of each series the rows belong to. Used when a body's series are
# interleaved; otherwise _series_spans computes the spans from the columns and _SET_SPAN
# widens each series (about a third of an insert's cost saved: no re-reading of the rows).
_WIDEN_SPANS = """
UPDATE series
   SET min_ts = MIN(COALESCE(series.min_ts, span.low), span.low),
       max_ts = MAX(COALESCE(series.max_ts, span.high), span.high)
  FROM (SELECT series_id, MIN(ts) AS low, MAX(ts) AS high FROM points NOT INDEXED
        WHERE id >= ? GROUP BY series_id) AS span
 WHERE series.id = span.series_id
"""

_SET_SPAN = """
UPDATE series
   SET min_ts = MIN(COALESCE(min_ts, ?1), ?1), max_ts = MAX(COALESCE(max_ts, ?2), ?2)
 WHERE id = ?3
"""
_MAX_RUN_SHARE = 8  # more runs of one series than one per this many rows: _WIDEN_SPANS

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_COLUMNS = (
    "id, user_id, source, metric, external_id, batch, ts, end_ts, value, meta_extra, point_extra"
)
_SERIES_CACHE_LIMIT = 100_000
_BLOCK_ROWS = 500  # rows per INSERT statement: 2,500 parameters, far below SQLite's 32,766


def format_instant(micros: int) -> str:
    """RFC 3339 in UTC for microseconds since the epoch (fraction only when non-zero).

    Examples:
        >>> format_instant(1_435_999_500_000_000)
        '2015-07-04T08:45:00Z'
    """
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

    Examples:
        >>> from genomcore_sdk.emulator.ingest import ParsedObservations
        >>> store = ObservationStore(":memory:")
        >>> rows = ParsedObservations([(1, "watch", "steps", "W-1", "b1", "")], [0], [0], [30], [12])
        >>> store.insert(rows, idempotency_key="k1", body_hash="h")
        (1, False)
        >>> store.insert(rows, idempotency_key="k1", body_hash="h")
        (1, True)
        >>> store.count()
        1
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=OFF")  # see the module docstring
        self._conn.execute("PRAGMA cache_size=-65536")  # KiB: 64 MiB of page cache
        self._conn.execute("PRAGMA temp_store=MEMORY")
        self._conn.execute("PRAGMA wal_autocheckpoint=10000")  # pages: checkpoint every ~40 MB
        self._migrate()
        self._conn.create_function("regexp_match", 3, regexp_match, deterministic=True)
        self._series: dict[SeriesKey, int] = {}

    def _migrate(self) -> None:
        conn = self._conn
        with self._lock:
            conn.execute("BEGIN IMMEDIATE")
            try:
                found = conn.execute(
                    "SELECT type FROM sqlite_master WHERE name = 'observations'"
                ).fetchone()
                if found is not None and found[0] == "table":
                    conn.execute("ALTER TABLE observations RENAME TO observations_v1")
                    for statement in _SCHEMA.split(";"):
                        conn.execute(statement)
                    for statement in _MIGRATE_FROM_1.split(";"):
                        conn.execute(statement)
                else:
                    for statement in _SCHEMA.split(";"):
                        conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {_VERSION}")
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    def close(self) -> None:
        """Close the database connection."""
        with self._lock:
            self._conn.close()

    def insert(
        self,
        rows: ParsedObservations,
        *,
        idempotency_key: str | None = None,
        body_hash: str = "",
        now: float = 0.0,
    ) -> tuple[int, bool]:
        """Store ``rows`` atomically; return (inserted count, whether this was a replay).

        With ``idempotency_key``, a key seen in the last :data:`IDEMPOTENCY_TTL`
        seconds answers the original count and stores nothing; a key seen with
        another body raises :class:`IdempotencyConflict`.
        """
        with self._lock:
            conn = self._conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                if idempotency_key is not None:
                    found = conn.execute(
                        "SELECT body_hash, inserted FROM idempotency"
                        " WHERE key = ? AND created_at >= ?",
                        (idempotency_key, now - IDEMPOTENCY_TTL),
                    ).fetchone()
                    if found is not None:
                        conn.execute("ROLLBACK")
                        if found[0] != body_hash:
                            raise IdempotencyConflict(idempotency_key)
                        return int(found[1]), True
                created: dict[SeriesKey, int] = {}
                ids = [self._series_id(key, created) for key in rows.series]
                last_id = self._insert_points(ids, rows)
                spans = _series_spans(ids, rows)
                if spans is None:
                    conn.execute(_WIDEN_SPANS, (last_id - len(rows) + 1,))
                else:
                    conn.executemany(_SET_SPAN, spans)
                if idempotency_key is not None:
                    conn.execute(
                        "INSERT OR REPLACE INTO idempotency (key, body_hash, inserted, created_at)"
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
            if len(self._series) + len(created) > _SERIES_CACHE_LIMIT:
                self._series.clear()
            self._series.update(created)
            return len(rows), False

    def insert_rows(self, rows: Sequence[tuple[int, str, str, str, str, int, int, int]]) -> int:
        """Store plain rows ``(userId, source, metric, externalId, batch, start µs, end µs, value)``.

        A convenience for tests and tools that fill a store directly; the API
        path uses :meth:`insert` with parsed request bodies.
        """
        series: list[SeriesKey] = []
        where: dict[SeriesKey, int] = {}
        index: list[int] = []
        for row in rows:
            key: SeriesKey = (row[0], row[1], row[2], row[3], row[4], "")
            if key not in where:
                where[key] = len(series)
                series.append(key)
            index.append(where[key])
        parsed = ParsedObservations(
            series=series,
            series_index=index,
            starts=[r[5] for r in rows],
            ends=[r[6] for r in rows],
            values=[r[7] for r in rows],
        )
        inserted, _ = self.insert(parsed)
        return inserted

    def _insert_points(self, ids: list[int], rows: ParsedObservations) -> int:
        """Insert the observations of ``rows``, many per statement; return the last row id.

        One ``INSERT ... VALUES (...), (...), ...`` per block of rows costs about
        half of ``executemany`` per row (the binding and stepping overhead is
        paid per block), and the parameters are laid out with slice assignments.
        """
        count = len(rows)
        width = 4 if rows.extras is None else 5
        flat: list[Any] = [None] * (count * width)
        if len(ids) == 1:
            flat[0::width] = ids * count
        else:
            flat[0::width] = [ids[i] for i in rows.series_index]
        flat[1::width] = rows.starts
        flat[2::width] = rows.ends
        flat[3::width] = rows.values
        columns = "series_id, ts, end_ts, value"
        if rows.extras is not None:
            flat[4::width] = rows.extras
            columns += ", extra"
        marks = "(" + ",".join("?" * width) + ")"
        step = _BLOCK_ROWS * width
        last_id = 0
        for begin in range(0, len(flat), step):
            block = flat[begin : begin + step]
            last_id = (
                self._conn.execute(
                    f"INSERT INTO points ({columns}) VALUES "
                    + ",".join([marks] * (len(block) // width)),
                    block,
                ).lastrowid
                or 0
            )
        return last_id

    def _series_id(self, key: SeriesKey, created: dict[SeriesKey, int]) -> int:
        """The id of the series of ``key``, created when new (inside the insert's transaction)."""
        found = self._series.get(key)
        if found is not None:
            return found
        user_id, source, metric, external_id, batch, extra = key
        row = self._conn.execute(
            "SELECT id FROM series WHERE user_id = ? AND batch = ? AND metric = ?"
            " AND source = ? AND external_id = ? AND extra = ?",
            (user_id, batch, metric, source, external_id, extra),
        ).fetchone()
        if row is not None:
            series_id = int(row[0])
        else:
            cursor = self._conn.execute(
                "INSERT INTO series (user_id, source, metric, external_id, batch, extra)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                key,
            )
            series_id = int(cursor.lastrowid or 0)
        created[key] = series_id
        return series_id

    def query(
        self, where: str, params: Sequence[Any], order_by: str, limit: int, offset: int
    ) -> tuple[list[dict[str, Any]], int]:
        """One page of matching observations as API dicts, and the total match count.

        ``where`` and ``order_by`` are SQL over the columns of the ``observations`` view.
        """
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
            conn = self._conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                deleted = conn.execute(
                    "DELETE FROM points WHERE series_id IN (SELECT id FROM series"
                    " WHERE user_id = ? AND batch = ? AND metric = ?)",
                    (user_id, batch, metric),
                ).rowcount
                conn.execute(
                    "DELETE FROM series WHERE user_id = ? AND batch = ? AND metric = ?",
                    (user_id, batch, metric),
                )
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            self._series.clear()
            return int(deleted)

    def count(self, where: str = "1", params: Sequence[Any] = ()) -> int:
        """How many stored observations match a SQL condition (for tests and tools).

        ``where`` is SQL over the columns of the ``observations`` view.
        """
        table = "points" if where == "1" else "observations"
        with self._lock:
            return int(
                self._conn.execute(
                    f"SELECT COUNT(*) FROM {table} WHERE {where}", params
                ).fetchone()[0]
            )


def _series_spans(ids: list[int], rows: ParsedObservations) -> list[tuple[int, int, int]] | None:
    """(lowest start, highest start, series id) per series of ``rows``; None when interleaved.

    Rows come in runs of one series; each run's span is a C-level min/max of
    a slice. With more runs than one per :data:`_MAX_RUN_SHARE` rows, None:
    the caller lets SQLite compute the spans (:data:`_WIDEN_SPANS`).
    """
    index, starts = rows.series_index, rows.starts
    if len(ids) == 1:
        return [(min(starts), max(starts), ids[0])]
    count = len(starts)
    heads = [0, *compress(range(1, count), map(operator.ne, index, index[1:]))]
    if len(heads) * _MAX_RUN_SHARE > count:
        return None
    spans: dict[int, tuple[int, int]] = {}
    for begin, end in zip(heads, [*heads[1:], count], strict=True):
        run = starts[begin:end]
        low, high = min(run), max(run)
        known = spans.get(index[begin])
        if known is not None:
            low, high = min(low, known[0]), max(high, known[1])
        spans[index[begin]] = (low, high)
    return [(low, high, ids[position]) for position, (low, high) in spans.items()]


def _row_to_api(row: tuple[Any, ...]) -> dict[str, Any]:
    start = format_instant(row[6])
    meta = {
        "userId": row[1],
        "source": row[2],
        "metric": row[3],
        "externalId": row[4],
        "batch": row[5],
    }
    if row[9]:
        meta.update(msgspec.json.decode(row[9]))
    point = {"start": start, "end": format_instant(row[7]), "value": row[8]}
    if row[10]:
        point.update(msgspec.json.decode(row[10]))
    return {"id": str(row[0]), "timestamp": start, "meta": meta, "point": point}
