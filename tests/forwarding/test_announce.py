"""The consoles are told where each alarm stands with the receivers: a live ``forwarding`` change
when a round fails (retrying, with the reason) and when a receiver acknowledges (delivered, by whom).
Recorded in the live table too, so a console that reconnects gets them in its replay."""

import asyncio
import time
from pathlib import Path

from hub import live
from hub.db.engine import make_engine, migrate, session_factory
from hub.forwarding.errors import ReceiverUnreachable
from hub.forwarding.outbox import Outbound
from hub.forwarding.sender import Delivery, Sender
from hub.forwarding.worker import Forwarder
from hub.store import Store
from tests.forwarding.support import HubStore, forwarding, until


class FlakySender:
    """A receiver that is away for its first ``down`` deliveries, then acknowledges."""

    def __init__(self, name: str, down: int) -> None:
        self.name, self.down, self.calls = name, down, 0

    async def deliver(self, message: Outbound) -> Delivery:
        self.calls += 1
        if self.calls <= self.down:
            raise ReceiverUnreachable("connection refused", result="unreachable")
        return Delivery(rtt_s=0.01)

    async def supervise(self) -> None:
        return None

    async def close(self) -> None:
        return None


async def test_a_retry_and_then_the_delivery_are_announced_live_and_kept_for_replay(tmp_path: Path) -> None:
    settings = forwarding(
        {"arc-1": {"type": "webhook", "url": "http://127.0.0.1:9/", "secret": "s"}},
        [{"name": "police", "primary": "arc-1"}],
    )
    engine = make_engine(f"sqlite:///{tmp_path / 'hub.db'}")
    migrate(engine)
    sessions = session_factory(engine)
    broadcaster = live.Broadcaster()
    heard = broadcaster.subscribe()
    senders: dict[str, Sender] = {"arc-1": FlakySender("arc-1", down=2)}  # one round (2 attempts) fails
    forwarder = Forwarder(settings, sessions, broadcaster=broadcaster, senders=senders)
    hub = HubStore(sessions, Store(sessions, forwarder.outbox), forwarder)
    stop = asyncio.Event()
    task = asyncio.create_task(forwarder.run(stop))
    try:
        started = time.monotonic()
        hub.raise_alarm("panic-1", "panic")
        changes: list[live.LiveEvent] = []

        def delivered() -> bool:
            while not heard.empty():
                event = heard.get_nowait()
                if event is not None and event.type == "forwarding":
                    changes.append(event)
            return any(c.data["state"] == "delivered" for c in changes)

        await until(delivered, 10)
        assert time.monotonic() - started < 10
        retry, done = changes[0].data, changes[-1].data
        assert (retry["state"], retry["route"], retry["school_id"]) == ("pending", "police", "school-a")
        assert "unreachable" in retry["error"] and retry["retry_in_s"] > 0
        assert (done["state"], done["delivered_to"], done["alarm_id"]) == ("delivered", "arc-1", retry["alarm_id"])
        replayed, _ = live.replay(sessions, 0, 100)
        assert [e.data["state"] for e in replayed if e.type == "forwarding"] == ["pending", "delivered"]
    finally:
        stop.set()
        await task
        engine.dispose()
