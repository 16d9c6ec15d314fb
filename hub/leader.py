"""One leader for the periodic sweeps (heartbeat watchdog, escalation, pruning) across hubs.

Several hubs may share one PostgreSQL database; the sweeps must run in exactly one of them. The
leader holds a session-level advisory lock (``pg_try_advisory_lock``) on a connection of its own.
PostgreSQL releases the lock when that connection ends: at once when the leader process dies
(the kernel closes its socket), or after the TCP keep-alives set below when its host vanishes.
The others try to take the lock every ``check_s``, so failover takes about ``check_s``. A leader
that stops checking (a frozen process keeps its socket open) loses the lock when PostgreSQL ends its
idle session (``idle_session_timeout``: five checks, at least 10 s). The leader
checks its connection just as often and steps down when it is gone. Advisory locks are scoped to
the database, so hubs of different databases on one server do not interfere.

SQLite is one process's embedded store: that hub is always the leader.
"""

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import SQLAlchemyError

log = logging.getLogger(__name__)

SWEEP_LOCK = 0x43475F5357454550  # "CG_SWEEP"
# Server-side keep-alives on the lock's connection: a leader whose host disappears (no FIN, no RST)
# loses the lock after about idle + interval x count seconds instead of the OS default of hours.
KEEPALIVES = {"tcp_keepalives_idle": 10, "tcp_keepalives_interval": 5, "tcp_keepalives_count": 3}


def lock_connection(engine: Engine, idle_timeout_s: float) -> Connection:
    """A connection of its own for session advisory locks: autocommit, server-side keep-alives (a
    vanished host loses its locks), and ended by PostgreSQL once idle for ``idle_timeout_s`` (a holder
    that stops checking loses them too). Used by the sweep leader and by ``hub.partitions``."""
    conn = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    for name, value in KEEPALIVES.items():
        conn.execute(text(f"SET {name} = {int(value)}"))
    conn.execute(text(f"SET idle_session_timeout = {int(idle_timeout_s * 1000)}"))
    return conn


class Leadership:
    """Whether this hub runs the sweeps; ``refresh`` (blocking) takes or checks the lock."""

    def __init__(self, engine: Engine, check_s: float = 1.0) -> None:
        self.engine = engine
        self.check_s = check_s
        self.shared = engine.dialect.name == "postgresql"
        self.is_leader = not self.shared
        self._conn: Connection | None = None

    def refresh(self) -> bool:
        """Try to become the leader, or check that we still are; return whether we are."""
        if not self.shared:
            return True
        try:
            if self._conn is None:
                # A leader that stops checking (frozen, stuck) must not keep the sweeps from the others.
                self._conn = lock_connection(self.engine, max(10.0, 5 * self.check_s))
            if self.is_leader:
                self._conn.execute(text("SELECT 1"))  # the lock lives exactly as long as this connection
            else:
                got = self._conn.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": SWEEP_LOCK}).scalar()
                if got:
                    log.info("this hub now runs the periodic sweeps (leader)")
                self.is_leader = bool(got)
        except SQLAlchemyError as exc:
            if self.is_leader:
                log.warning("lost the sweep leadership: %s", exc)
            self.is_leader = False
            self._drop()
        return self.is_leader

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.invalidate()  # never back to the pool: a pooled connection could still hold the lock
                conn.close()
            except SQLAlchemyError:
                log.debug("closing the lock connection failed", exc_info=True)

    def release(self) -> None:
        """Give the lock up (on shutdown), so another hub takes over at once."""
        self.is_leader = not self.shared
        self._drop()

    async def run(self, stop: asyncio.Event) -> None:
        """Refresh every ``check_s`` until ``stop``; then release. In a thread of its own: behind
        database work in the shared pool, a check could miss the lock connection's idle timeout."""
        loop, thread = asyncio.get_running_loop(), ThreadPoolExecutor(1, thread_name_prefix="leader")
        try:
            while not stop.is_set():
                await loop.run_in_executor(thread, self.refresh)
                try:
                    async with asyncio.timeout(self.check_s):
                        await stop.wait()
                except TimeoutError:
                    pass
        finally:
            await loop.run_in_executor(thread, self.release)
            thread.shutdown(wait=False)
