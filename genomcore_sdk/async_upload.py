"""The asyncio upload driver: the same :class:`~genomcore_sdk.upload.UploadCore`, sent with tasks.

Everything but the sending is shared with the sync upload
(:mod:`genomcore_sdk.upload`): validation, chunk planning, idempotency keys,
retry decisions (:class:`~genomcore_sdk.retry.RetryPolicy`), the journal, the
413 split, progress events, the report and the
:class:`~genomcore_sdk.errors.UploadError`.

Where the work runs:

* Pass one (reading and validating every row, and opening the journal) is
  file and CPU work that can take seconds for a large file, so it runs in a
  worker thread (``asyncio.to_thread``) and the event loop stays responsive.
* Pass two (encoding one chunk when a slot frees up) runs on the event loop:
  one chunk is a few milliseconds of work, and keeping every
  :class:`~genomcore_sdk.upload.UploadCore` call on the loop means the core
  needs no lock. Progress callbacks therefore run on the event loop: keep them quick.
* Up to ``max_concurrency`` requests are in flight, one task each; a chunk is
  built only when a task slot is free, so memory stays flat.

Cancelling the upload (e.g. ``asyncio.timeout`` or task cancellation) cancels
the requests in flight and re-raises ``CancelledError``; chunks already stored
are in the journal, if one is used, and a rerun with it sends only the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any

import tenacity
from genomcore_ts_api.api.time_series import create_time_series as create_op

from .errors import GenomcoreError, TransportError
from .upload import (
    ChunkJob,
    UploadCore,
    UploadOptions,
    UploadReport,
    _Failed,
    _Retry,
    _Stored,
    answered,
    deliver,
    may_have_been_processed,
    sending_what,
    upload_session,
)

if TYPE_CHECKING:
    from .base_client import AsyncBaseClient

__all__ = ["AsyncSender", "async_upload"]

logger = logging.getLogger("genomcore_sdk.async_upload")


class AsyncSender:
    """Sends an :class:`~genomcore_sdk.upload.UploadCore`'s jobs with asyncio tasks.

    One task per chunk in flight (at most ``max_concurrency``), each retried
    under the core's policy with ``tenacity.AsyncRetrying``; the core is only
    ever called from the event loop.
    """

    def __init__(self, client: AsyncBaseClient, core: UploadCore, max_concurrency: int) -> None:
        self.client = client
        self.core = core
        self.max_concurrency = max_concurrency

    async def run(self) -> None:
        """Send every job; return when the core has none left and none is in flight."""
        in_flight: set[asyncio.Task[_Stored | _Failed]] = set()
        try:
            while True:
                while len(in_flight) < self.max_concurrency:
                    job = self.core.next_job()
                    if job is None:
                        break
                    in_flight.add(asyncio.create_task(self._send(job)))
                if not in_flight:
                    return
                done, in_flight = await asyncio.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    deliver(self.core, task.result())
        except BaseException:
            # cancelled, or a bug: stop the requests in flight (their fate is unknown)
            for task in in_flight:
                task.cancel()
            with contextlib.suppress(BaseException):
                await asyncio.gather(*in_flight, return_exceptions=True)
            raise

    async def _send(self, job: ChunkJob) -> _Stored | _Failed:
        attempts = 0
        maybe_processed = False

        def before_sleep(state: tenacity.RetryCallState) -> None:
            error = state.outcome.exception() if state.outcome is not None else None
            assert error is not None
            deliver(self.core, _Retry(job, state.attempt_number, error, state.upcoming_sleep))

        what = sending_what(job)
        try:
            async for attempt in self.core.policy.async_retrying(before_sleep=before_sleep):
                with attempt:
                    attempts += 1
                    try:
                        response = await self.client.send_encoded(
                            create_op,
                            what,
                            job.body,
                            placeholder=[],
                            idempotency_key=job.key,
                        )
                    except TransportError as exc:
                        maybe_processed = maybe_processed or may_have_been_processed(exc)
                        raise
        except GenomcoreError as exc:
            return _Failed(job, exc, attempts, maybe_processed)
        return answered(job, response, attempts, maybe_processed)


async def async_upload(client: AsyncBaseClient, body: Any, options: UploadOptions) -> UploadReport:
    """Validate (in a thread), chunk and send ``body`` with tasks; return the report.

    See ``AsyncTimeSeries.create_time_series`` and the module docstring.
    """
    with contextlib.ExitStack() as stack:
        session = upload_session(body, options, base_url=client.base_url)
        preparing = asyncio.ensure_future(asyncio.to_thread(stack.enter_context, session))
        try:
            core = await asyncio.shield(preparing)
        except asyncio.CancelledError:
            # a thread cannot be interrupted: let pass one end, so what it opened is closed
            with contextlib.suppress(BaseException):
                await preparing
            raise
        await AsyncSender(client, core, options.max_concurrency).run()
        return core.finish()
