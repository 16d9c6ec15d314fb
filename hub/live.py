"""Live changes for the server-sent-events stream, with a replay buffer for Last-Event-ID."""

import asyncio
import time
from collections import deque
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class LiveEvent:
    """One change: its stream id, a type (device, gateway, alarm) and JSON-able data."""

    id: int
    type: str
    data: dict[str, Any]


class Broadcaster:
    """Fans changes out to subscribers; ids grow across restarts (they start at the clock in µs)."""

    def __init__(self, buffer: int = 1_000, subscriber_queue: int = 10_000) -> None:
        self._next = time.time_ns() // 1_000
        self._buffer: deque[LiveEvent] = deque(maxlen=buffer)
        self._subscribers: set[asyncio.Queue[LiveEvent | None]] = set()
        self._queue_size = subscriber_queue

    @property
    def subscribers(self) -> int:
        """How many streams are open."""
        return len(self._subscribers)

    def publish(self, type_: str, data: dict[str, Any]) -> None:
        """Send a change to every subscriber; a subscriber that cannot keep up is dropped."""
        self._next += 1
        event = LiveEvent(self._next, type_, data)
        self._buffer.append(event)
        for queue in list(self._subscribers):
            try:
                queue.put_nowait(event)
            except asyncio.QueueFull:
                self._subscribers.discard(queue)
                queue.get_nowait()
                queue.put_nowait(None)  # tells the stream to end; the client reconnects with Last-Event-ID

    def subscribe(self, last_event_id: int | None = None) -> asyncio.Queue[LiveEvent | None]:
        """A queue of changes, first replaying buffered ones newer than ``last_event_id``."""
        queue: asyncio.Queue[LiveEvent | None] = asyncio.Queue(self._queue_size)
        if last_event_id is not None:
            for event in self._buffer:
                if event.id > last_event_id:
                    queue.put_nowait(event)
        self._subscribers.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[LiveEvent | None]) -> None:
        """Stop sending to ``queue``."""
        self._subscribers.discard(queue)
