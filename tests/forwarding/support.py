"""An in-process hub store with forwarding, and alarms raised into it as ingest would."""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from contract import Event
from contract.messages import new_event_id, utc_now
from hub.batch import Batch
from hub.db.engine import make_engine, migrate, session_factory
from hub.forwarding.models import Attempt, OutboxRow
from hub.forwarding.sender import Sender
from hub.forwarding.settings import ForwardingSettings
from hub.forwarding.worker import Forwarder
from hub.sinks import Committed
from hub.store import Store


def forwarding(receivers: dict[str, dict[str, Any]], routes: list[dict[str, Any]], **extra: Any) -> ForwardingSettings:
    """Forwarding settings with fast retries."""
    data: dict[str, Any] = {
        "receivers": receivers,
        "routes": routes,
        "schools": {"school-a": {"account": "1234"}, "school-b": {"account": "AAA1", "area": 2}},
        "retry": {"initial_s": 0.1, "max_s": 1.0, "attempts_per_receiver": 2, "failback_after_s": 60},
        "worker": {"poll_s": 0.5, "lease_s": 5},
    }
    data.update(extra)
    return ForwardingSettings.model_validate(data)


def dc09(port: int, **extra: Any) -> dict[str, Any]:
    """A DC-09 receiver on loopback, with short timeouts."""
    return {
        "type": "dc09",
        "host": "127.0.0.1",
        "port": port,
        "account": "1234",
        "ack_timeout_s": 1,
        "connect_timeout_s": 0.5,
        "null_interval_s": 30,
        **extra,
    }


@dataclass
class HubStore:
    """The hub's store with its outbox hook, and the forwarder's worker."""

    sessions: sessionmaker[Session]
    store: Store
    forwarder: Forwarder
    seq: int = 0

    def raise_alarm(
        self,
        device_id: str,
        kind: str,
        school_id: str = "school-a",
        *,
        event: str = "alarm.raised",
        zone: int | None = None,
    ) -> None:
        """Store an alarm event the way ingest does (one batch, one transaction)."""
        self.seq += 1
        message = Event(
            event_id=new_event_id(),
            seq=self.seq,
            device_id=device_id,
            ts=utc_now(),
            type=event,
            alarm_type=kind,
            zone=zone,
        )
        batch = Batch(events={message.event_id: (school_id, "gw-01", message)})
        outcome = self.store.write(batch, utc_now())
        self.forwarder.committed(Committed(utc_now(), forwarded=outcome.forwarded))  # as ingest's sinks are told

    def rows(self) -> list[OutboxRow]:
        """Every outbox row, in order."""
        with self.sessions() as session:
            return list(session.scalars(select(OutboxRow).order_by(OutboxRow.id)))

    def attempts(self) -> list[Attempt]:
        """Every attempt, in order."""
        with self.sessions() as session:
            return list(session.scalars(select(Attempt).order_by(Attempt.id)))


@contextlib.asynccontextmanager
async def hub_store(
    db_url: str,
    settings: ForwardingSettings,
    *,
    now: Callable[[], datetime] = utc_now,
    run: bool = True,
    senders: dict[str, Sender] | None = None,
) -> AsyncIterator[HubStore]:
    """A migrated store whose alarms go to the outbox; the forwarder runs while inside."""
    engine = make_engine(db_url)
    migrate(engine)
    sessions = session_factory(engine)
    forwarder = Forwarder(settings, sessions, now=now, senders=senders)
    store = Store(sessions, forwarder.outbox)
    stop = asyncio.Event()
    task = asyncio.create_task(forwarder.run(stop)) if run else None
    try:
        yield HubStore(sessions, store, forwarder)
    finally:
        stop.set()
        if task is not None:
            await task
        engine.dispose()


async def until(check: Callable[[], Any], timeout_s: float, every_s: float = 0.05) -> Any:
    """Poll a synchronous check (in a thread) until truthy."""
    async with asyncio.timeout(timeout_s):
        while True:
            result = await asyncio.to_thread(check)
            if result:
                return result
            await asyncio.sleep(every_s)
