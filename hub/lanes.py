"""Ingest's queues: a validated message (``Inbound``), a lane that holds them for one processing loop,
and the gate that lets alarms write first (``AlarmsFirst``)."""

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from contract import MessageType
from hub.decoding import Message


@dataclass(frozen=True, slots=True)
class Inbound:
    """A validated message and where it came from."""

    school_id: str
    gateway_id: str
    type: MessageType
    message: Message
    topic: str = ""
    raw: bytes = b""


@dataclass
class Lane:
    """One queue of ingest and when its loop last moved (a commit, or nothing to do)."""

    name: str
    queue: asyncio.Queue[Inbound]
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    progress: float = field(default_factory=time.monotonic)

    async def put(self, item: Inbound) -> None:
        """Queue ``item``, waiting while the queue is full (backpressure)."""
        await self.queue.put(item)
        self.ready.set()

    def take_nowait(self) -> Inbound | None:
        """The next message, or None."""
        return None if self.queue.empty() else self.queue.get_nowait()

    async def take(self, timeout_s: float) -> Inbound | None:
        """The next message, waiting up to ``timeout_s`` for one."""
        deadline = time.monotonic() + timeout_s
        while (item := self.take_nowait()) is None:
            self.ready.clear()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            try:
                async with asyncio.timeout(remaining):
                    await self.ready.wait()
            except TimeoutError:
                return None
        return item


class AlarmsFirst:
    """Telemetry waits to begin a transaction while an alarm's is waiting or being written."""

    def __init__(self) -> None:
        self._alarms = 0
        self._clear = asyncio.Event()
        self._clear.set()

    @contextlib.asynccontextmanager
    async def alarm(self) -> AsyncIterator[None]:
        """Around an alarm's write."""
        self._alarms += 1
        self._clear.clear()
        try:
            yield
        finally:
            self._alarms -= 1
            if not self._alarms:
                self._clear.set()

    async def telemetry(self) -> None:
        """Before a telemetry write: wait while an alarm's is pending."""
        await self._clear.wait()
