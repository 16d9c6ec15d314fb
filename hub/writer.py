"""Committing ingest's batches: what the database refuses is isolated, a failing database is waited out.

A batch the database refuses for its content is split in halves until the part at fault stands
alone (log2(n)+1 refusals for n parts); that part goes to ``on_refused`` (a dead letter) and the
rest commits. Only a failure of the database itself (connection, lock, I/O: ``TRANSIENT``) retries
the whole batch, with backoff from 0.5 s to 30 s, and is reported as ``failing_since``.
"""

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from campusguard.backoff import backoff_s
from hub.batch import Batch
from hub.metrics import Metrics
from hub.store import Outcome, Store

log = logging.getLogger(__name__)

# The database itself failing: retry the whole batch. Anything else is the batch's content.
TRANSIENT = (OperationalError, InterfaceError, DisconnectionError, PoolTimeout, OSError)
Refused = Callable[[Batch, BaseException, datetime], None]


def merged(a: Outcome, b: Outcome) -> Outcome:
    """The outcome of two halves of one batch."""
    for key, ids in b.acks.items():
        a.acks[key].extend(ids)
    a.stored += b.stored
    a.duplicates += b.duplicates
    a.alarms += b.alarms
    a.changes += b.changes
    return a


class BatchWriter:
    """Writes batches through the store in worker threads of its own (one per ingest lane).

    The threads are the writer's so that a stopping hub can wait for a write under way: cancelling
    the task that awaits it does not stop the thread, and a connection it returns to a pool already
    disposed would be left open (``close``).
    """

    def __init__(self, store: Store, metrics: Metrics, now: Callable[[], datetime], on_refused: Refused) -> None:
        self._threads = ThreadPoolExecutor(max_workers=2, thread_name_prefix="hub-writer")
        self.store = store
        self.metrics = metrics
        self.now = now
        self.on_refused = on_refused
        self.last_commit: datetime | None = None
        self.failing_since: datetime | None = None  # the database has been refusing batches since

    async def commit(self, batch: Batch, now: datetime) -> Outcome:
        """Commit, isolating what the database refuses; retry while the database itself fails."""
        attempt = 0
        while True:
            try:
                outcome = await self._write(batch, now)
            except TRANSIENT as exc:
                delay = backoff_s(attempt, 0.5, 30.0)
                attempt += 1
                self.metrics.batch_failures += 1
                self.failing_since = self.failing_since or self.now()
                log.error(
                    "the database refused a batch of %d events (%s); retrying in %.1f s", len(batch.events), exc, delay
                )
                await asyncio.sleep(delay)
                continue
            self.failing_since = None
            self.last_commit = self.now()
            return outcome

    async def _write(self, batch: Batch, now: datetime) -> Outcome:
        started = time.perf_counter()
        try:
            outcome = await asyncio.wrap_future(self._threads.submit(self.store.write, batch, now))
        except TRANSIENT:
            raise
        except Exception as exc:  # noqa: BLE001 - the batch's content was refused: find the part at fault
            self.metrics.batch_failures += 1
            if batch.atoms() <= 1:
                self.on_refused(batch, exc, now)
                return Outcome()
            first, second = batch.split()
            return merged(await self._write(first, now), await self._write(second, now))
        self.metrics.observe_batch(time.perf_counter() - started)
        return outcome

    async def close(self) -> None:
        """Wait for the writes under way (the hub is stopping), then let the threads go."""
        await asyncio.to_thread(self._threads.shutdown, wait=True)
