"""Live changes for the server-sent-events stream, kept in the database for Last-Event-ID replay.

A change is stored in the same transaction as what caused it (``record``), so the stream's ids are
the database's: they grow across hub restarts, and a console that reconnects with ``Last-Event-ID``
gets what it missed even when the hub was restarted meanwhile (``replay``). On PostgreSQL a
transaction-scoped advisory lock around the insert makes ids commit in order, so a client that saw
id N has seen every id below N that will ever exist. The broadcaster only fans committed changes
out to the streams open in this process.
"""

import asyncio
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, insert, select, text
from sqlalchemy.orm import Session, sessionmaker

from hub.db.models import LiveRow
from hub.domain.state import Change

if TYPE_CHECKING:
    from hub.sinks import Committed

REMEMBERED = 100_000  # ids of changes this process sent, so another hub's tail does not send them twice
LIVE_ORDER_LOCK = 0x43475F4C495645  # "CG_LIVE": serialises live-event inserts until commit (PostgreSQL)


@dataclass(frozen=True)
class LiveEvent:
    """One change: its stream id, a type (device, gateway, alarm) and JSON-able data."""

    id: int
    type: str
    data: dict[str, Any]


def change_dict(change: Change) -> dict[str, Any]:
    """A device or gateway change as the live stream sends it."""
    return {
        "school_id": change.school_id,
        "gateway_id": change.gateway_id,
        "id": change.device_id or change.gateway_id,
        "availability": change.availability,
        "reason": change.reason,
        "since": change.at.isoformat(),
        "previous": change.previous,
    }


def record(session: Session, items: list[tuple[str, dict[str, Any]]], at: datetime) -> list[LiveEvent]:
    """Store changes for the stream in the caller's transaction; return them with their ids."""
    if not items:
        return []
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LIVE_ORDER_LOCK})
    rows = [{"at": at, "type": type_, "data": data} for type_, data in items]
    ids = session.scalars(insert(LiveRow).returning(LiveRow.id, sort_by_parameter_order=True), rows).all()
    return [LiveEvent(id_, type_, data) for id_, (type_, data) in zip(ids, items, strict=True)]


def replay(sessions: sessionmaker[Session], after_id: int, limit: int) -> tuple[list[LiveEvent], bool]:
    """Changes newer than ``after_id``, oldest first: at most the newest ``limit``; and whether some were left out."""
    with sessions() as session:
        query = select(LiveRow).where(LiveRow.id > after_id).order_by(LiveRow.id.desc()).limit(limit + 1)
        rows = session.scalars(query).all()
    truncated = len(rows) > limit
    return [LiveEvent(r.id, r.type, r.data) for r in reversed(rows[:limit])], truncated


def prune(session: Session, before: datetime) -> int:
    """Forget changes older than ``before``; return how many."""
    result = session.execute(delete(LiveRow).where(LiveRow.at < before))
    return int(getattr(result, "rowcount", 0) or 0)


class Broadcaster:
    """Fans committed changes out to this process's open streams (a sink of ingest, ``hub.sinks``)."""

    name = "live"

    def __init__(self, subscriber_queue: int = 10_000) -> None:
        self._subscribers: set[asyncio.Queue[LiveEvent | None]] = set()
        self._queue_size = subscriber_queue
        self._published: OrderedDict[int, None] = OrderedDict()  # recent ids sent, for ``hub.live_tail``
        self.remember = False  # set by a tail: a lone hub keeps no ids

    def published(self, event_id: int) -> bool:
        """Whether this process already sent the change with this id."""
        return event_id in self._published

    @property
    def subscribers(self) -> int:
        """How many streams are open."""
        return len(self._subscribers)

    def publish(self, event: LiveEvent) -> None:
        """Send a committed change to every subscriber; a subscriber that cannot keep up is dropped."""
        if self.remember:
            self._published[event.id] = None
            if len(self._published) > REMEMBERED:
                self._published.popitem(last=False)
        for queue in list(self._subscribers):
            try:
                queue.put_nowait(event)
            except asyncio.QueueFull:
                self._subscribers.discard(queue)
                queue.get_nowait()
                queue.put_nowait(None)  # tells the stream to end; the client reconnects with Last-Event-ID

    def committed(self, commit: "Committed") -> None:
        """Send every change of a commit to the open streams."""
        for event in commit.changes:
            self.publish(event)

    def subscribe(self) -> asyncio.Queue[LiveEvent | None]:
        """A queue of the changes published from now on."""
        queue: asyncio.Queue[LiveEvent | None] = asyncio.Queue(self._queue_size)
        self._subscribers.add(queue)
        return queue

    def close(self) -> None:
        """End every open stream (the hub is stopping); clients reconnect with Last-Event-ID."""
        for queue in list(self._subscribers):
            self._subscribers.discard(queue)
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(None)

    def unsubscribe(self, queue: asyncio.Queue[LiveEvent | None]) -> None:
        """Stop sending to ``queue``."""
        self._subscribers.discard(queue)
