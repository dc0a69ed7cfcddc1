"""Upload progress for the command line.

On a terminal, a live tqdm bar (rows, rate, ETA, chunks, retries) redrawn in
place on stderr; otherwise (a log file, CI) a plain line on stderr every few
seconds, so logs stay readable.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from typing import Any, TextIO

__all__ = ["UploadProgressDisplay"]


def _terminal_shape(stream: TextIO) -> tuple[int, int] | None:
    """None when the terminal reports its size (tqdm follows resizes), else a fallback.

    A terminal that reports 0 columns or rows (a bare pseudo-terminal) would
    get no bar at all (tqdm hides bars below the last row); ``$COLUMNS`` and
    ``$LINES``, or 100 x 20, are used then.
    """
    try:
        size = os.get_terminal_size(stream.fileno())
        if size.columns > 0 and size.lines > 0:
            return None
    except (OSError, ValueError, AttributeError):
        pass
    fallback = shutil.get_terminal_size((100, 20))
    return (fallback.columns or 100, fallback.lines or 20)


class UploadProgressDisplay:
    """Turns upload events into a progress bar or periodic lines.

    Args:
        total_rows: rows expected (for percentages and ETA), if known.
        stream: where to draw (default stderr).
        live: draw a live bar; default: when ``stream`` is a terminal.
        interval: seconds between plain lines when not live.
    """

    def __init__(
        self,
        total_rows: int | None,
        *,
        stream: TextIO | None = None,
        live: bool | None = None,
        interval: float = 2.0,
    ) -> None:
        self.stream = stream or sys.stderr
        self.total_rows = total_rows
        self.live = self.stream.isatty() if live is None else live
        self.interval = interval
        self.started = time.monotonic()
        self._last_line = 0.0
        self._rows = 0
        self._chunks = 0
        self._retries = 0
        self._stored = 0  # rows of stored chunks
        self._skipped = 0  # rows of chunks the journal lists as stored by an earlier run
        self._failed = 0  # chunks not stored
        self._events = 0
        self._printed_at = -1  # the event count of the last plain line
        self._bar: Any = None
        if self.live:
            try:
                from tqdm import tqdm
            except ImportError:
                self.live = False
            else:
                shape = _terminal_shape(self.stream)
                self._bar = tqdm(
                    total=total_rows,
                    unit="rows",
                    unit_scale=True,
                    file=self.stream,
                    dynamic_ncols=shape is None,
                    ncols=shape[0] if shape else None,
                    nrows=shape[1] if shape else None,
                    mininterval=0.1,
                    desc="upload",
                )

    def __call__(self, event: Any) -> None:
        """Take one upload event (``UploadEvent``)."""
        self._events += 1
        rows_done = int(getattr(event, "rows_done", self._rows))
        self._chunks = int(getattr(event, "chunks_done", self._chunks))
        self._retries = int(getattr(event, "retries", self._retries))
        kind = getattr(event, "kind", "")
        chunk = getattr(event, "chunk", None)
        if kind == "chunk_failed":
            self._failed += 1
        elif kind == "chunk_done" and chunk is not None:
            if getattr(chunk, "status", "") == "skipped":
                self._skipped += int(getattr(chunk, "size", 0))
            else:
                self._stored += int(getattr(chunk, "size", 0))
        if self._bar is not None:
            self._bar.update(max(0, rows_done - self._rows))
            postfix = {"stored": self._stored, "chunks": self._chunks, "retries": self._retries}
            if self._skipped:
                postfix["skipped"] = self._skipped
            postfix["failed"] = self._failed
            self._bar.set_postfix(postfix)
        self._rows = max(self._rows, rows_done)
        if self._bar is None:
            now = time.monotonic()
            if now - self._last_line >= self.interval:
                self._last_line = now
                self._print_line(now)

    def _print_line(self, now: float) -> None:
        self._printed_at = self._events
        elapsed = max(now - self.started, 1e-9)
        rate = self._rows / elapsed
        if self.total_rows:
            share = f"/{self.total_rows:,} ({100 * self._rows / self.total_rows:.0f}%)"
        else:
            share = ""
        outcome = f"{self._stored:,} stored"
        if self._skipped:
            outcome += f", {self._skipped:,} already stored (journal)"
        if self._failed:
            outcome += f", {self._failed} chunks failed"
        print(
            f"upload: {self._rows:,}{share} rows done ({outcome}), {self._chunks} chunks, "
            f"{self._retries} retries, {rate:,.0f} rows/s",
            file=self.stream,
            flush=True,
        )

    def close(self) -> None:
        """Finish the bar (or print a last line, unless the last event was just printed)."""
        if self._bar is not None:
            self._bar.close()
        elif self._events and self._printed_at != self._events:  # nothing new: no line
            self._print_line(time.monotonic())
