"""The resume journal: which chunks of an upload are stored, so that a rerun skips them.

``create_time_series(..., journal="upload.journal")`` appends one line per
chunk as soon as the server stored it. Rerunning the same call with the same
journal (after a crash, a kill, a network outage, an ``UploadError``) sends
only the chunks the journal does not list. Chunks that were in flight when
the process died are sent again with the same ``Idempotency-Key`` (keys are
derived from the journal's upload id, the chunk index and the chunk's content
hash), so the server answers them from its idempotency record instead of
storing them twice.

The journal refuses to be used for another upload: a different ``chunksize``,
another server, or an input whose chunk at a recorded index hashes
differently all raise :class:`~genomcore_sdk.errors.JournalError` before
anything is sent.

Format: JSON lines. The first line is the header::

    {"format": "genomcore-upload-journal", "version": 2, "uploadId": "…",
     "chunksize": 1000, "baseUrl": "https://api.genomcore.com", "created": "…"}

then one line per stored chunk::

    {"chunk": 7, "hash": "…", "rows": 1000, "inserted": 1000}

Each line is written with one ``write`` call on a file opened for appending,
so a process killed at any moment leaves at worst a torn last line, which the
next run drops (that chunk is sent again, and replayed by the server). Two processes must not use one journal at the same time.
"""

from __future__ import annotations

import datetime
import os
import uuid
from collections.abc import Sequence
from types import TracebackType
from typing import Any, Self

import attrs
import orjson

from .errors import JournalError

__all__ = ["JOURNAL_FORMAT", "JournalEntry", "UploadJournal"]

JOURNAL_FORMAT = "genomcore-upload-journal"
JOURNAL_VERSION = 2
"""Version 2 keys chunks by SHA-256 (version 1, by BLAKE2b: start such an upload anew)."""


@attrs.frozen
class JournalEntry:
    """One stored chunk, as the journal records it.

    Attributes:
        index: the chunk's number in the upload, from 0.
        content_hash: the hash of the chunk's request body.
        rows: observations in the chunk.
        inserted: observations the server reported stored.
    """

    index: int
    content_hash: str
    rows: int
    inserted: int


class UploadJournal:
    """An open journal (see the module docstring). Use :meth:`open`.

    Attributes:
        path: the journal file.
        upload_id: the id of the upload this journal belongs to (part of every
            chunk's ``Idempotency-Key``).
        chunksize: the chunk size the upload was planned with.
        entries: the stored chunks, by index.
    """

    def __init__(
        self,
        path: str,
        upload_id: str,
        chunksize: int,
        entries: dict[int, JournalEntry],
        fd: int,
    ) -> None:
        self.path = path
        self.upload_id = upload_id
        self.chunksize = chunksize
        self.entries = entries
        self._fd: int | None = fd

    def __repr__(self) -> str:
        return f"UploadJournal(path={self.path!r}, stored_chunks={len(self.entries)})"

    @classmethod
    def open(cls, path: str | os.PathLike[str], *, chunksize: int, base_url: str) -> UploadJournal:
        """Open (or create) the journal at ``path`` for an upload in chunks of ``chunksize``.

        Raises:
            JournalError: the file is not a journal, is damaged, or belongs to an
                upload with another chunksize or server.

        Examples:
            >>> journal = UploadJournal.open("week.journal", chunksize=1000,
            ...                              base_url="http://127.0.0.1:8080")  # doctest: +SKIP
        """
        name = os.fspath(path)
        try:
            with open(name, "rb") as handle:
                content = handle.read()
        except FileNotFoundError:
            content = b""
        except OSError as exc:
            raise JournalError(
                f"Cannot read the journal {name!r}: {exc.strerror or exc}. Nothing was sent."
            ) from exc
        if content.strip():
            upload_id, entries, torn = cls._parse(name, content, chunksize, base_url)
            if torn:
                # a record cut short by a crash: drop it, so the file stays well formed
                keep = content.rstrip(b"\n").rfind(b"\n") + 1
                os.truncate(name, keep)
                content = content[:keep]
            fd = cls._append_fd(name)
            if not content.endswith(b"\n"):
                os.write(fd, b"\n")
            return cls(name, upload_id, chunksize, entries, fd)
        upload_id = uuid.uuid4().hex
        header = {
            "format": JOURNAL_FORMAT,
            "version": JOURNAL_VERSION,
            "uploadId": upload_id,
            "chunksize": chunksize,
            "baseUrl": base_url,
            "created": datetime.datetime.now(datetime.UTC).isoformat(),
        }
        fd = cls._append_fd(name)
        os.write(fd, orjson.dumps(header) + b"\n")
        return cls(name, upload_id, chunksize, {}, fd)

    @staticmethod
    def _append_fd(name: str) -> int:
        try:
            return os.open(name, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as exc:
            raise JournalError(
                f"Cannot write the journal {name!r}: {exc.strerror or exc}. Nothing was sent."
            ) from exc

    @staticmethod
    def _parse(
        name: str, content: bytes, chunksize: int, base_url: str
    ) -> tuple[str, dict[int, JournalEntry], bool]:
        lines = content.split(b"\n")
        try:
            header: Any = orjson.loads(lines[0])
        except orjson.JSONDecodeError:
            header = None
        if not isinstance(header, dict) or header.get("format") != JOURNAL_FORMAT:
            raise JournalError(
                f"{name!r} is not an upload journal (its first line is not a journal header); "
                "pass a new path, or the journal of this upload. Nothing was sent."
            )
        if header.get("version") != JOURNAL_VERSION:
            raise JournalError(
                f"The journal {name!r} has version {header.get('version')!r}; this SDK reads "
                f"version {JOURNAL_VERSION}. Nothing was sent."
            )
        recorded = header.get("chunksize")
        if recorded != chunksize:
            raise JournalError(
                f"The journal {name!r} belongs to an upload with chunksize="
                f"{recorded}, not {chunksize}: its chunks would not line up. "
                f"Rerun with chunksize={recorded} (--chunksize {recorded} "
                "on the command line), or use a new journal path "
                "for a new upload. Nothing was sent."
            )
        if header.get("baseUrl") != base_url:
            raise JournalError(
                f"The journal {name!r} records an upload to {header.get('baseUrl')!r}, not "
                f"{base_url!r}; use a new journal path for another server. Nothing was sent."
            )
        entries: dict[int, JournalEntry] = {}
        torn = False
        body = lines[1:]
        for number, line in enumerate(body, start=2):
            if not line.strip():
                continue
            try:
                record = orjson.loads(line)
                entry = JournalEntry(
                    index=int(record["chunk"]),
                    content_hash=str(record["hash"]),
                    rows=int(record["rows"]),
                    inserted=int(record["inserted"]),
                )
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
                if all(not rest.strip() for rest in body[number - 1 :]):
                    torn = True  # the last record was cut short by a crash: not stored-for-sure
                    continue
                raise JournalError(
                    f"The journal {name!r} is damaged at line {number}; use a new journal "
                    "path (the server's idempotency records still prevent duplicates of "
                    "chunks retried within 24 hours). Nothing was sent."
                ) from None
            known = entries.get(entry.index)
            if known is not None and known.content_hash != entry.content_hash:
                raise JournalError(
                    f"The journal {name!r} records chunk {entry.index} twice with different "
                    "contents; it is damaged. Use a new journal path. Nothing was sent."
                )
            entries[entry.index] = entry
        return str(header["uploadId"]), entries, torn

    def verify(self, chunk_hashes: Sequence[str]) -> None:
        """Check that every recorded chunk is still the input's chunk at that index.

        Raises:
            JournalError: the input changed since the journal was written.
        """
        for index in sorted(self.entries):
            entry = self.entries[index]
            first = index * self.chunksize
            if index >= len(chunk_hashes):
                raise JournalError(
                    f"The journal {self.path!r} records chunk {index} (rows from {first}) as "
                    f"stored, but the input now makes only {len(chunk_hashes)} chunks: it is "
                    "not the input this journal was written for. Rerun with the original "
                    "input, or use a new journal path. Nothing was sent."
                )
            if chunk_hashes[index] != entry.content_hash:
                raise JournalError(
                    f"The journal {self.path!r} records chunk {index} (rows {first}-"
                    f"{first + entry.rows - 1}) with other contents than the input has now: "
                    "the input changed since. Rerun with the original input, or use a new "
                    "journal path for a new upload. Nothing was sent."
                )

    def is_stored(self, index: int, content_hash: str) -> bool:
        """Whether chunk ``index`` with this content is recorded as stored."""
        entry = self.entries.get(index)
        return entry is not None and entry.content_hash == content_hash

    def record(self, index: int, content_hash: str, rows: int, inserted: int) -> None:
        """Record chunk ``index`` as stored (one append: it survives the process being killed)."""
        if self._fd is None:
            raise JournalError(f"The journal {self.path!r} is closed")
        entry = JournalEntry(index, content_hash, rows, inserted)
        line = orjson.dumps(
            {"chunk": index, "hash": content_hash, "rows": rows, "inserted": inserted}
        )
        os.write(self._fd, line + b"\n")
        self.entries[index] = entry

    def close(self) -> None:
        """Close the file."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
