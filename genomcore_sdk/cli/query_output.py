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


class _HeaderedWriter:
    """Rows under a header line that goes out with the first row (or at ``close``).

    So a query that fails before its first page writes nothing, and an empty
    result is still a well-formed file (the header alone).
    """

    HEADER: tuple[str, ...]

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._header_written = False

    def _row(self, cells: list[Any]) -> None:
        raise NotImplementedError

    def _ensure_header(self) -> None:
        if not self._header_written:
            self._row(list(self.HEADER))
            self._header_written = True

    def write(self, observation: dict[str, Any]) -> None:
        """Write one observation as a row (after the header, the first time)."""
        self._ensure_header()
        self._row(_flat(observation))

    def close(self) -> None:
        """Write the header if no row did, and flush the stream."""
        self._ensure_header()
        self._stream.flush()


class CsvWriter(_HeaderedWriter):
    """The vendor layout, so the file round-trips into ``genomcore ts upload``."""

    HEADER = CSV_COLUMNS

    def __init__(self, stream: TextIO) -> None:
        super().__init__(stream)
        self._csv = LineFeedCsvWriter(stream)  # a cell with a lone CR is quoted too

    def _row(self, cells: list[Any]) -> None:
        self._csv.writerow(cells)


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


class TableWriter(_HeaderedWriter):
    """Aligned columns for reading in a terminal (fixed widths, so it streams)."""

    WIDTHS = (8, 18, 16, 16, 22, 25, 25, 10)
    HEADER = ("userId", "source", "metric", "externalId", "batch", "start", "end", "value")

    def _row(self, cells: list[Any]) -> None:
        parts = []
        for cell, width in zip(cells, self.WIDTHS, strict=True):
            text = str(cell)
            parts.append(text.ljust(width) if len(text) <= width else text)
        self._stream.write("  ".join(parts).rstrip() + "\n")


def make_writer(fmt: str, stream: TextIO) -> OutputWriter:
    """The writer for ``csv``, ``jsonl`` or ``table``."""
    if fmt == "csv":
        return CsvWriter(stream)
    if fmt == "jsonl":
        return JsonLinesWriter(stream)
    if fmt == "table":
        return TableWriter(stream)
    raise ValueError(f"unknown format {fmt!r}; use csv, jsonl or table")
