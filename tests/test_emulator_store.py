"""Property tests of the emulator's store: the series spans the query engine relies on."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from genomcore_sdk.emulator.ingest import ParsedObservations
from genomcore_sdk.emulator.store import ObservationStore

KEYS = [(1, "watch", metric, "W-1", batch, "") for metric in ("hr", "steps") for batch in "ab"]


@st.composite
def bodies(draw: st.DrawFn) -> ParsedObservations:
    """Rows of up to four series, in runs of one series or interleaved, times in any order."""
    series = draw(st.lists(st.sampled_from(KEYS), min_size=1, max_size=4, unique=True))
    index: list[int] = []
    for _ in range(draw(st.integers(1, 8))):
        index += [draw(st.integers(0, len(series) - 1))] * draw(st.integers(1, 30))
    if draw(st.booleans()):
        index = draw(st.permutations(index))  # interleaved
    order = list(dict.fromkeys(index))  # as the parser lists them: each used, by first use
    series = [series[i] for i in order]
    index = [order.index(i) for i in index]
    starts = draw(
        st.lists(st.integers(-(10**12), 10**12), min_size=len(index), max_size=len(index))
    )
    return ParsedObservations(series, index, starts, starts, [0] * len(index))


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(bodies(), min_size=1, max_size=4))
def test_series_spans_cover_exactly_their_points(
    tmp_path: Path, inserts: list[ParsedObservations]
) -> None:
    """After any inserts, each series' [min_ts, max_ts] is the lowest and highest start of its points."""
    store = ObservationStore(":memory:")
    try:
        for rows in inserts:
            store.insert(rows)
        conn: sqlite3.Connection = store._conn
        spans = conn.execute("SELECT id, min_ts, max_ts FROM series ORDER BY id").fetchall()
        expected = conn.execute(
            "SELECT series_id, MIN(ts), MAX(ts) FROM points GROUP BY series_id ORDER BY series_id"
        ).fetchall()
    finally:
        store.close()
    assert spans == expected
    assert len(spans) == len({key for rows in inserts for key in rows.series})
