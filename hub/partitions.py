"""Gateways shared out among hubs by partition, each partition held through a PostgreSQL advisory lock.

For brokers with no sticky sharing (mosquitto's round-robin ``$share``, NATS and RabbitMQ with none
at all), every hub subscribes to every gateway's messages and applies only those of the gateways it
holds. A gateway's partition is a hash of its (school, gateway) into ``cluster.partitions``; a hub
holds a partition while it holds the session advisory lock ``(PARTS, partition)`` on a connection of
its own, as the sweep leader does (``hub.leader``). PostgreSQL is the only coordinator: it frees a
dead hub's locks when its connection ends, and the others take them at their next check.

Every running hub also holds one member lock ``(MEMBERS, slot)``, so each can count the hubs from
``pg_locks`` and aim at its fair share, ``ceil(partitions / hubs)``:

- a hub with fewer takes free partitions. It applies a taken partition's messages only one check
  later (``arriving``), after its state is loaded from the database by the caller: a hub whose lock
  connection alone failed stops writing at its own next check, before the taker begins;
- a hub with more (another hub joined) stops applying the extra ones at once and unlocks them one
  check later (``leaving``).

Where the two meet, ``fence`` reads in the writing transaction which partitions this hub's lock
connection holds, and the store leaves the other gateways out of the batch: a hub that stalled until
its lock connection ended cannot write a batch it applied before over the state the taker loaded.

A hub whose lock connection fails holds nothing from that moment on, and takes its share again
once the database answers. A hub that stops checking (frozen, stuck) loses its locks when
PostgreSQL ends its idle session (``idle_session_timeout``, five checks), so the others take over.
Every hub also holds a shared lock naming its partition count: a hub that finds another count in
use holds nothing and says why, since two partitionings would both apply some gateways.
"""

import asyncio
import logging
import math
import time
import zlib
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from campusguard.tasks import stopped_within
from hub.leader import lock_connection

log = logging.getLogger(__name__)

MEMBERS = 0x43474D42  # "CGMB": one lock per running hub (key 2: its slot)
PARTS = 0x43475054  # "CGPT": one lock per partition (key 2: the partition)
COUNTS = 0x43474350  # "CGCP": shared by every running hub (key 2: its partition count), so a mismatch shows
MAX_HUBS = 256
OTHER_COUNTS = text(
    "SELECT DISTINCT objid::bigint FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 2 "
    "AND classid = :c AND objid::bigint <> :k "
    "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
)
COUNT_MEMBERS = text(
    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 2 "
    "AND classid = :c AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
)
HELD_BY = text(
    "SELECT objid::bigint FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 2 "
    "AND classid = :c AND pid = :pid"
)
TRY_LOCK = text("SELECT pg_try_advisory_lock(:c, :k)")
SHARED_LOCK = text("SELECT pg_advisory_lock_shared(:c, :k)")
UNLOCK = text("SELECT pg_advisory_unlock(:c, :k)")


def partition_of(school_id: str, gateway_id: str, count: int) -> int:
    """The partition of a gateway: stable across hubs, versions and restarts."""
    return zlib.crc32(f"{school_id}/{gateway_id}".encode()) % count


@dataclass(frozen=True)
class Moves:
    """What one check changed: partitions to load and begin applying, partitions no longer applied."""

    gained: frozenset[int] = frozenset()
    lost: frozenset[int] = frozenset()


class Partitions:
    """Which gateways this hub applies. ``count`` 0: all of them (one hub, or a sticky broker)."""

    def __init__(self, engine: Engine | None, count: int, check_s: float = 1.0, idle_timeout_s: float = 0) -> None:
        self.engine, self.count, self.check_s = engine, count, check_s
        # A hub that stops checking (frozen, stopped, stuck) must not keep its partitions: PostgreSQL
        # ends a session idle this long, and with it the locks. 0: 5 checks, at least 10 s.
        self.idle_timeout_s = idle_timeout_s or max(10.0, 5 * check_s)
        self.mismatch: int | None = None  # another running hub's partition count, when it differs
        self.enabled = count > 0 and engine is not None
        self.owned: frozenset[int] = frozenset()  # applied now
        self.members = 0
        self.moves = 0  # partitions gained or lost since start (a metric)
        self._held: set[int] = set()  # locked on our connection (owned, arriving or leaving)
        self._arriving: dict[int, float] = {}  # partition -> monotonic time it may be applied from
        self._leaving: dict[int, float] = {}  # partition -> monotonic time its lock is released
        self._slot: int | None = None
        self._conn: Connection | None = None
        self._cache: dict[tuple[str, str], int] = {}
        self._next_warning = 0.0
        self.pid: int | None = None  # the lock connection's server process (``fence``)
        self._thread: ThreadPoolExecutor | None = None  # where checks run (``run``); adopt runs there too

    def partition(self, school_id: str, gateway_id: str) -> int:
        """A gateway's partition (cached: this is on every message's path)."""
        key = (school_id, gateway_id)
        found = self._cache.get(key)
        if found is None:
            if len(self._cache) > 1_000_000:
                self._cache.clear()
            found = self._cache[key] = partition_of(school_id, gateway_id, self.count)
        return found

    def fence(self, session: Session, keys: set[tuple[str, str]]) -> set[tuple[str, str]]:
        """Of ``keys``, the gateways whose partition this hub's lock connection does not hold, read
        from ``pg_locks`` in the caller's transaction: what this hub applied before it lost them is
        then not written over the taker's. The taker applies only one check after taking a lock,
        so a commit right after this read lands before the taker loads."""
        if not self.enabled or not keys:
            return set()
        held: set[int] = set()
        if self.pid is not None:
            held = {int(p) for p in session.scalars(HELD_BY, {"c": PARTS, "pid": self.pid})}
        applied = held & self.owned
        return {k for k in keys if self.partition(*k) not in applied}

    def owns(self, school_id: str, gateway_id: str) -> bool:
        """Whether this hub applies the gateway's messages."""
        return not self.enabled or self.partition(school_id, gateway_id) in self.owned

    # --- the check (blocking: run in a thread) ----------------------------------------------------

    def refresh(self, now: Callable[[], float] = time.monotonic) -> Moves:
        """Take or give partitions towards the fair share; return the partitions to load (``gained``,
        not yet applied: the caller loads their state, then calls ``adopt``) and those dropped."""
        if not self.enabled:
            return Moves()
        before = self.owned
        try:
            conn = self._connect()
            if self._slot is None:
                self._slot = self._take_slot(conn)
                conn.execute(SHARED_LOCK, {"c": COUNTS, "k": self.count})
            self.members = max(1, int(conn.execute(COUNT_MEMBERS, {"c": MEMBERS}).scalar() or 1))
            if self._mismatched(conn):
                self._release_all(conn)
            else:
                self._balance(conn, now())
        except SQLAlchemyError as exc:
            if self._held:
                log.warning("lost the gateway partitions (%d): %s", len(self._held), exc)
            self._drop()
        ready = {p for p, at in self._arriving.items() if at <= now()}
        for p in ready:
            del self._arriving[p]
        self.owned = frozenset(self.owned & self._applied())
        lost = before - self.owned
        self.moves += len(lost) + len(ready)
        return Moves(frozenset(ready), frozenset(lost))

    def adopt(self, partitions: frozenset[int]) -> None:
        """Begin applying partitions whose state the caller loaded (blocking, like ``refresh``)."""
        self.owned = self.owned | (partitions & self._applied())

    async def adopted(self, partitions: frozenset[int]) -> None:
        """``adopt``, in the checks' own thread: a check running meanwhile would otherwise compute
        ``owned`` from the value before and drop what was adopted."""
        if self._thread is None:
            self.adopt(partitions)
        else:
            await asyncio.get_running_loop().run_in_executor(self._thread, self.adopt, partitions)

    def _applied(self) -> set[int]:
        return self._held - set(self._arriving) - set(self._leaving)

    def _balance(self, conn: Connection, at: float) -> None:
        share = math.ceil(self.count / self.members)
        for p, release_at in list(self._leaving.items()):
            if release_at <= at:
                conn.execute(UNLOCK, {"c": PARTS, "k": p})
                self._held.discard(p)
                del self._leaving[p]
        keep = sorted(self._held - set(self._leaving), key=self._preference)
        for p in keep[share:]:  # another hub joined: give the least preferred back, after a check
            self._leaving[p] = at + self.check_s
            self._arriving.pop(p, None)
            self.owned = self.owned - {p}
        wanted = share - min(len(keep), share)
        for p in sorted(set(range(self.count)) - self._held, key=self._preference):
            if wanted <= 0:
                break
            if conn.execute(TRY_LOCK, {"c": PARTS, "k": p}).scalar():
                self._held.add(p)
                self._arriving[p] = at + self.check_s
                wanted -= 1

    def _mismatched(self, conn: Connection) -> bool:
        """Whether a running hub has another partition count: two partitionings would both apply
        some gateways, so this hub holds nothing until every hub agrees (it says so every minute)."""
        other = conn.execute(OTHER_COUNTS, {"c": COUNTS, "k": self.count}).scalar()
        if other is not None and (self.mismatch is None or time.monotonic() >= self._next_warning):
            log.error(
                "cluster.partitions is %d here but %d in another running hub: this hub holds no gateway "
                "until every hub has the same value", self.count, other,
            )  # fmt: skip
            self._next_warning = time.monotonic() + 60
        self.mismatch = None if other is None else int(other)
        return self.mismatch is not None

    def _release_all(self, conn: Connection) -> None:
        for p in sorted(self._held):
            conn.execute(UNLOCK, {"c": PARTS, "k": p})
        self._held.clear()
        self._arriving.clear()
        self._leaving.clear()
        self.owned = frozenset()

    def _preference(self, p: int) -> int:
        """Hubs start their search at different partitions, so they rarely race for the same one."""
        start = (self._slot or 0) * self.count // max(self.members, 1)
        return (p - start) % self.count

    def _connect(self) -> Connection:
        if self._conn is None:
            assert self.engine is not None
            self._conn = lock_connection(self.engine, self.idle_timeout_s)
            self.pid = int(self._conn.execute(text("SELECT pg_backend_pid()")).scalar() or 0)
        return self._conn

    @staticmethod
    def _take_slot(conn: Connection) -> int:
        for slot in range(MAX_HUBS):
            if conn.execute(TRY_LOCK, {"c": MEMBERS, "k": slot}).scalar():
                return slot
        raise RuntimeError(f"more than {MAX_HUBS} hubs share this database")

    def _drop(self) -> None:
        """Forget every lock: they died with the connection (or go with it now)."""
        conn, self._conn, self.pid = self._conn, None, None
        self._held.clear()
        self._arriving.clear()
        self._leaving.clear()
        self._slot, self.owned = None, frozenset()
        if conn is not None:
            try:
                conn.invalidate()
                conn.close()
            except SQLAlchemyError:
                log.debug("closing the partition connection failed", exc_info=True)

    def release(self) -> None:
        """Give every partition up (on shutdown), so the other hubs take them at once."""
        self._drop()

    async def run(self, stop: asyncio.Event, apply: Callable[[Moves], Awaitable[None]]) -> None:
        """Check every ``check_s`` until ``stop``, handing each check's moves to ``apply``, in order;
        then release.

        The checks run in a thread of their own and never wait for ``apply`` (loading a takeover's
        state, asking for rebirths): held up by a slow database or broker, they would miss the idle
        timeout and give the partitions up.
        """
        loop, thread = asyncio.get_running_loop(), ThreadPoolExecutor(1, thread_name_prefix="partitions")
        self._thread = thread
        queue: asyncio.Queue[Moves] = asyncio.Queue()

        async def applying() -> None:
            while True:
                await apply(await queue.get())

        applier = asyncio.create_task(applying(), name="partitions-apply")
        try:
            while True:
                moves = await loop.run_in_executor(thread, self.refresh)
                if moves.gained or moves.lost:
                    queue.put_nowait(moves)
                if applier.done():  # apply failed: let the supervisor see it
                    applier.result()
                if await stopped_within(stop, self.check_s):
                    return
        finally:
            applier.cancel()
            await asyncio.gather(applier, return_exceptions=True)
            await loop.run_in_executor(thread, self.release)
            self._thread = None
            thread.shutdown(wait=False)
