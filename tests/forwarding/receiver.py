"""Test receivers: pysiaalarm 3.2.2 as an independent DC-09 receiver, and a proxy that can fail.

pysiaalarm's async TCP server treats one read as one message and answers before it calls back;
its callback sees only ACKed events, so what the callback collects is what the receiver accepted.
The proxy sits in front of it and can be ``up`` (pass through), ``down`` (port closed, connections
cut: connect refused) or ``hold`` (accept frames, forward nothing, answer nothing, as a receiver
that withholds its ACK).
"""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from pysiaalarm import SIAEvent
from pysiaalarm.aio import CommunicationsProtocol, SIAAccount, SIAClient

KEY_128 = "0123456789ABCDEF"
KEY_192 = "0123456789ABCDEF01234567"
KEY_256 = "0123456789ABCDEF0123456789ABCDEF"


@dataclass
class Arc:
    """A running pysiaalarm receiver and every event its callback got."""

    port: int
    client: SIAClient
    events: list[SIAEvent] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def on_event(self, event: SIAEvent) -> None:
        """pysiaalarm's callback (only for events it ACKed)."""
        self.events.append(event)
        self.arrived.set()

    async def wait_for(self, count: int, timeout_s: float) -> list[SIAEvent]:
        """Wait until the callback has seen ``count`` events in all."""
        async with asyncio.timeout(timeout_s):
            while len(self.events) < count:
                self.arrived.clear()
                await self.arrived.wait()
        return self.events

    def data_events(self) -> list[SIAEvent]:
        """Events other than NULL supervision (which pysiaalarm reports as RP with ri 0)."""
        return [e for e in self.events if e.message_type is None or e.message_type.value != "NULL"]


@contextlib.asynccontextmanager
async def sia_receiver(accounts: list[SIAAccount]) -> AsyncIterator[Arc]:
    """pysiaalarm's asyncio TCP server on a free loopback port."""
    arc = Arc(0, None)  # type: ignore[arg-type]
    client = SIAClient("127.0.0.1", 0, accounts, arc.on_event, protocol=CommunicationsProtocol.TCP)
    await client.async_start()
    arc.client = client
    arc.port = client.server.sockets[0].getsockname()[1]
    try:
        yield arc
    finally:
        await client.async_stop()


def account(account_id: str, key: str | None = None, timeband: tuple[int, int] | None = (40, 20)) -> SIAAccount:
    """A receiver account; the key is used as ASCII bytes (pysiaalarm's convention)."""
    return SIAAccount(account_id, key, allowed_timeband=timeband)


class Proxy:
    """A TCP proxy in front of a receiver that can go down, come up, or withhold answers."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.port = 0
        self.mode = "up"
        self.held: list[bytes] = []
        self.connections = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> "Proxy":
        """Listen (on the same port as before when restarted)."""
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        self.mode = "up" if self.mode == "down" else self.mode
        return self

    async def down(self) -> None:
        """Stop listening and cut every connection: connects are refused."""
        self.mode = "down"
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        await self._cut()

    async def up(self) -> None:
        """Pass traffic again."""
        self.mode = "up"
        if self._server is None:
            await self.start()

    async def _cut(self) -> None:
        for writer in list(self._writers):
            writer.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        self._writers.clear()

    async def stop(self) -> None:
        """Close everything."""
        await self.down()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.add(writer)
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        self._writers.add(up_writer)
        back = asyncio.ensure_future(self._pump_back(up_reader, writer))
        self._tasks.add(back)
        back.add_done_callback(self._tasks.discard)
        buffer = b""
        try:
            while True:
                chunk = await reader.read(4096)
                if not chunk:
                    break
                buffer += chunk
                while b"\r" in buffer:  # one frame per write: pysiaalarm reads one message per read()
                    end = buffer.index(b"\r") + 1
                    frame, buffer = buffer[:end], buffer[end:]
                    if self.mode == "hold":
                        self.held.append(frame)
                        continue
                    up_writer.write(frame)
                    await up_writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            for w in (writer, up_writer):
                w.close()
                self._writers.discard(w)
            back.cancel()
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await back
            for w in (writer, up_writer):
                with contextlib.suppress(Exception):
                    await w.wait_closed()

    async def _pump_back(self, up_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while chunk := await up_reader.read(4096):
                writer.write(chunk)
                await writer.drain()
        except ConnectionError:
            pass
