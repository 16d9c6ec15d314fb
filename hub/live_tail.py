"""Every hub's consoles see every hub's changes: a tail of the live-changes table.

With several hubs on one PostgreSQL (``mqtt.share_group``), a change committed by hub A (an alarm
its ingest took, an acknowledgement made through it) is in the shared ``live_events`` table, but
only A's open streams heard of it. Each hub tails the table and sends its streams the changes it did
not publish itself, in id order. Ids commit in order on PostgreSQL (``hub.live``'s advisory lock),
so reading past the last id seen never skips a change that commits later.

A change a hub made itself still goes out at once (``Broadcaster.publish``); another hub's arrives
within the tail's period.
"""

import asyncio
import logging

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from campusguard.tasks import stopped_within
from hub import live
from hub.db.models import LiveRow

log = logging.getLogger(__name__)
BATCH = 5_000


class LiveTail:
    """Sends this hub's streams the changes other hubs committed."""

    def __init__(self, sessions: sessionmaker[Session], broadcaster: live.Broadcaster, every_s: float = 0.2) -> None:
        self.sessions, self.broadcaster, self.every_s = sessions, broadcaster, every_s
        broadcaster.remember = True  # so the tail can skip what this hub sent itself
        self.last_id: int | None = None
        self.relayed = 0

    def _newest(self) -> int:
        with self.sessions() as session:
            return int(session.scalar(select(func.max(LiveRow.id))) or 0)

    def step(self) -> list[live.LiveEvent]:
        """The changes committed since the last step that this hub did not publish (in a thread)."""
        if self.last_id is None:
            self.last_id = self._newest()  # from now on: the history is the replay's
            return []
        events, _ = live.replay(self.sessions, self.last_id, BATCH)
        if events:
            self.last_id = events[-1].id
        return [e for e in events if not self.broadcaster.published(e.id)]

    async def run(self, stop: asyncio.Event) -> None:
        """Tail until ``stop``."""
        while True:
            for event in await asyncio.to_thread(self.step):
                self.broadcaster.publish(event)
                self.relayed += 1
            if await stopped_within(stop, self.every_s):
                return
