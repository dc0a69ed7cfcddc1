"""Bulk upload: input -> validate -> chunk -> send -> report.

This module turns the observations a caller hands over into chunks, sends
each chunk once (with an ``Idempotency-Key`` that stays the same across its
retries, so a retried chunk is never stored twice) and reports per chunk.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import orjson
from genomcore_ts_api.api.time_series import create_time_series as create_op
from genomcore_ts_api.models import CreateResult, Observation

from .base_client import BaseClient
from .errors import InvalidObservation, ObservationValidationError
from .retry import RetryPolicy

__all__ = ["MAX_CHUNKSIZE", "UploadReport", "upload"]

logger = logging.getLogger("genomcore_sdk.upload")

MAX_CHUNKSIZE = 5000
"""The server's limit of observations per create request (``openapi.yaml``)."""


class UploadReport(list[CreateResult]):
    """The per-chunk responses of an upload (as the vendor SDK returns), plus totals.

    It *is* the list of :class:`CreateResult` responses, one per chunk, so
    ``responses = api.time_series.create_time_series(...)`` keeps working as
    documented; the extra attributes tell the whole story.

    Attributes:
        sent: observations sent to the server.
        stored: observations the server stored.
        chunks: how many chunks were sent.
        retries: how many retries were needed in all.
        duration: seconds from start to end.
    """

    sent: int = 0
    stored: int = 0
    chunks: int = 0
    retries: int = 0
    duration: float = 0.0

    def __repr__(self) -> str:
        return (
            f"UploadReport(sent={self.sent}, stored={self.stored}, chunks={self.chunks}, "
            f"retries={self.retries}, duration={self.duration:.2f})"
        )


def _wire(item: Any, index: int) -> dict[str, Any]:
    if isinstance(item, Observation):
        return item.to_dict()
    if isinstance(item, Mapping):
        return dict(item)
    raise ObservationValidationError(
        [
            InvalidObservation(
                index,
                "",
                type(item).__name__,
                "each observation must be a dict like {'meta': {...}, 'point': {...}} "
                "or a genomcore_ts_api.models.Observation",
            )
        ]
    )


def _check_batch(obs: Mapping[str, Any], index: int) -> None:
    meta = obs.get("meta")
    batch = meta.get("batch") if isinstance(meta, Mapping) else None
    if batch is None or batch == "":
        raise ObservationValidationError(
            [
                InvalidObservation(
                    index,
                    "meta.batch",
                    batch,
                    "batch must be a non-empty string naming this group of observations, "
                    "e.g. 'actiwatch-2015-07-04'",
                )
            ]
        )


def _chunks(items: list[dict[str, Any]], size: int) -> Iterator[tuple[int, list[dict[str, Any]]]]:
    for start in range(0, len(items), size):
        yield start, items[start : start + size]


def upload(
    client: BaseClient,
    body: Iterable[Any],
    *,
    chunksize: int,
    max_retries: int,
    chunk_details: bool,
) -> UploadReport:
    """Validate, chunk and send ``body``; return the report."""
    if (
        not isinstance(chunksize, int)
        or isinstance(chunksize, bool)
        or not 1 <= chunksize <= MAX_CHUNKSIZE
    ):
        raise ValueError(
            f"chunksize must be an integer from 1 to {MAX_CHUNKSIZE} (the server's limit), got {chunksize!r}"
        )
    started = time.monotonic()
    observations = [_wire(item, i) for i, item in enumerate(body)]
    for index, obs in enumerate(observations):
        _check_batch(obs, index)
    report = UploadReport()
    policy = RetryPolicy(max_retries=max_retries)
    for chunk_number, (first, chunk) in enumerate(_chunks(observations, chunksize)):
        if chunk_details:
            logger.info(
                "chunk %d: rows %d-%d, first %s, last %s",
                chunk_number,
                first,
                first + len(chunk) - 1,
                chunk[0],
                chunk[-1],
            )
        content = orjson.dumps(chunk)
        key = uuid.uuid4().hex
        attempts = 0
        for attempt in policy.retrying():
            with attempt:
                attempts += 1
                response = client.send_encoded(
                    create_op,
                    f"Uploading chunk {chunk_number} (rows {first}-{first + len(chunk) - 1})",
                    content,
                    placeholder=[],
                    idempotency_key=key,
                )
        result = response.parsed
        assert isinstance(result, CreateResult)
        report.append(result)
        report.retries += attempts - 1
        report.sent += len(chunk)
        report.stored += result.inserted
        report.chunks += 1
    report.duration = time.monotonic() - started
    return report
