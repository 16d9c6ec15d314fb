"""Keep the findings ledger current: judge a school again when its devices change, and every school
on a timer (profiles, dates and deadlines change without any device doing so).

A sink of ingest's pipeline notes the schools whose devices or gateways changed; a task of the
leader's (one hub in a cluster) judges them after a short settle, in a worker thread, and records
what changed (``hub.compliance.ledger``). On a timer it judges every profiled school.
"""

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from campusguard.tasks import stopped_within
from hub.compliance.judge import judge
from hub.compliance.ledger import Recorded, record
from hub.compliance.observe import Metrics
from hub.settings import HubSettings
from hub.sinks import Committed

log = logging.getLogger(__name__)
RETRY_S = 5.0  # after a failed pass


class ComplianceWatch:
    """The pipeline sink and the leader's task that keep ``compliance_findings`` current."""

    name = "compliance"

    def __init__(
        self,
        settings: HubSettings,
        sessions: sessionmaker[Session],
        *,
        metrics: Metrics | None,
        is_leader: Callable[[], bool],
        now: Callable[[], datetime],
    ) -> None:
        self.settings, self.sessions, self.metrics = settings, sessions, metrics
        self.is_leader, self.now = is_leader, now
        self.dirty: set[str] = set()
        self.wake = asyncio.Event()

    def committed(self, commit: Committed) -> None:
        """Note the schools whose devices or gateways changed (judging skips those with no profile)."""
        for change in commit.changes:
            school = change.data.get("school_id") if change.type in ("device", "gateway") else None
            if isinstance(school, str):
                self.mark(school)

    def mark(self, school: str) -> None:
        """Judge this school again soon (a device changed, or its profile was edited)."""
        self.dirty.add(school)
        self.wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Judge changed schools after ``settle_s``, and every school every ``evaluate_every_s``."""
        every, settle = self.settings.compliance.evaluate_every_s, self.settings.compliance.settle_s
        loop = asyncio.get_running_loop()
        next_full = loop.time()
        while not stop.is_set():
            timeout = max(next_full - loop.time(), 0.0)
            waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self.wake.wait())]
            await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
            for w in waiters:
                w.cancel()
            if stop.is_set():
                return
            full = loop.time() >= next_full
            if not full:
                await asyncio.sleep(settle)  # a burst of changes is judged once
            self.wake.clear()
            schools, self.dirty = (None if full else self.dirty), set()
            if full:
                next_full = loop.time() + every
            if not self.is_leader():
                continue
            try:
                await asyncio.to_thread(self.evaluate, schools)
            except Exception:  # a database that is busy or away: judge the same schools again soon
                log.exception("compliance: judging %s failed; again in %g s", schools or "every school", RETRY_S)
                if schools is None:
                    next_full = loop.time()
                else:
                    self.dirty |= schools
                self.wake.set()
                if await stopped_within(stop, RETRY_S):
                    return

    def evaluate(self, schools: set[str] | None) -> Recorded:
        """Judge the schools (None: every profiled one) and record what changed, in one transaction."""
        with self.sessions.begin() as session:
            now = self.now()
            done = record(session, judge(session, self.settings, schools, now, self.metrics), now)
        if done.begun or done.ended:
            log.info("compliance: %d findings begun, %d ended", done.begun, done.ended)
        return done
