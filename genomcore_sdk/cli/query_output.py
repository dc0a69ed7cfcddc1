"""Writers for ``genomcore ts query`` output: csv, jsonl and table, one row at a time."""

from __future__ import annotations

from typing import Any, Protocol, TextIO

import orjson

from ..sources import LineFeedCsvWriter

__all__ = ["CSV_COLUMNS", "OutputWriter", "make_writer"]

CSV_COLUMNS = (
    "meta.userId",
    "meta.source",
    "meta.metric",
    "meta.externalId",
    "meta.batch",
    "point.start",
    "point.end",
    "point.value",
)
"""The vendor's flattened layout, which ``genomcore ts upload`` reads back."""


class OutputWriter(Protocol):
    """Writes stored observations (their ``to_dict()`` form) as they arrive."""

    def write(self, observation: dict[str, Any]) -> None:
        """Write one observation."""

    def close(self) -> None:
        """Finish the output (flush; write nothing more)."""


def _flat(observation: dict[str, Any]) -> list[Any]:
    meta, point = observation["meta"], observation["point"]
    return [
        meta["userId"],
        meta["source"],
        meta["metric"],
        meta["externalId"],
        meta["batch"],
        point["start"],
        point["end"],
        point["value"],
    ]


class CsvWriter:
    """The vendor layout, so the file round-trips into ``genomcore ts upload``.

    The header goes out with the first row (or at ``close`` when there is
    none), so a query that fails before its first page writes nothing.
    """

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._csv = LineFeedCsvWriter(stream)  # a cell with a lone CR is quoted too
        self._header_written = False

    def _header(self) -> None:
        self._csv.writerow(CSV_COLUMNS)
        self._header_written = True

    def write(self, observation: dict[str, Any]) -> None:
        """Write one observation as a CSV row."""
        if not self._header_written:
            self._header()
        self._csv.writerow(_flat(observation))

    def close(self) -> None:
        """Write the header if no row did, and flush the stream."""
        if not self._header_written:
            self._header()
        self._stream.flush()


class JsonLinesWriter:
    """One JSON object per line, as the API answers it (with ``id`` and ``timestamp``)."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, observation: dict[str, Any]) -> None:
        """Write one observation as a JSON line."""
        self._stream.write(orjson.dumps(observation).decode() + "\n")

    def close(self) -> None:
        """Flush the stream."""
        self._stream.flush()


class TableWriter:
    """Aligned columns for reading in a terminal (fixed widths, so it streams).

    Like :class:`CsvWriter`, the header goes out with the first row or at ``close``.
    """

    WIDTHS = (8, 18, 16, 16, 22, 25, 25, 10)
    HEADER = ("userId", "source", "metric", "externalId", "batch", "start", "end", "value")

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._header_written = False

    def _line(self, cells: list[Any]) -> None:
        parts = []
        for cell, width in zip(cells, self.WIDTHS, strict=True):
            text = str(cell)
            parts.append(text.ljust(width) if len(text) <= width else text)
        self._stream.write("  ".join(parts).rstrip() + "\n")

    def _header(self) -> None:
        self._line(list(self.HEADER))
        self._header_written = True

    def write(self, observation: dict[str, Any]) -> None:
        """Write one observation as a table line."""
        if not self._header_written:
            self._header()
        self._line(_flat(observation))

    def close(self) -> None:
        """Write the header if no row did, and flush the stream."""
        if not self._header_written:
            self._header()
        self._stream.flush()


def make_writer(fmt: str, stream: TextIO) -> OutputWriter:
    """The writer for ``csv``, ``jsonl`` or ``table``."""
    if fmt == "csv":
        return CsvWriter(stream)
    if fmt == "jsonl":
        return JsonLinesWriter(stream)
    if fmt == "table":
        return TableWriter(stream)
    raise ValueError(f"unknown format {fmt!r}; use csv, jsonl or table")
