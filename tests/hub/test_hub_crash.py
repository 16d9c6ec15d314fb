"""The hub SIGKILLed with thousands of events in flight, then restarted: every event stored exactly once.

On SQLite and on PostgreSQL (the ``db_url`` fixture), with the same 5,000 events on both.
"""

import asyncio
import contextlib
import signal
import sqlite3
import time
from pathlib import Path

import psycopg
import pytest
import yaml

from agent.config import MqttSettings, SpoolSettings
from agent.publisher import Publisher
from agent.spool import Spool
from contract import Birth, DeviceInfo, Event, Snapshot
from contract.messages import SpoolStats, new_event_id, utc_now
from tests.hub.support import start_hub, unique_prefix, wait_healthy
from tests.support.servers import Mosquitto, free_port

pytestmark = pytest.mark.integration
EVENTS = 5_000


def stored(db_url: str) -> list[str]:
    """Event ids in the hub's database (read by another connection, as an auditor would)."""
    if db_url.startswith("postgresql"):
        with psycopg.connect(db_url.replace("postgresql+psycopg://", "postgresql://")) as pg:
            try:
                return [row[0] for row in pg.execute("SELECT event_id FROM events")]
            except psycopg.errors.UndefinedTable:
                return []
    db = Path(db_url.removeprefix("sqlite:///"))
    if not db.exists():
        return []
    with contextlib.closing(sqlite3.connect(db, timeout=10)) as conn:
        try:
            return [row[0] for row in conn.execute("SELECT event_id FROM events")]
        except sqlite3.OperationalError:
            return []


async def drained(spool: Spool, stall_s: float = 30, cap_s: float = 300) -> None:
    """Wait until the agent has every event acked; fail when that stops progressing for ``stall_s``
    (a loaded machine is slow, a stuck one makes no progress), or after ``cap_s`` in all."""
    started = last_change = time.monotonic()
    last = spool.stats().pending_events
    while last and time.monotonic() - last_change < stall_s and time.monotonic() - started < cap_s:
        await asyncio.sleep(0.1)
        now = spool.stats().pending_events
        if now != last:
            last, last_change = now, time.monotonic()
    assert last == 0, f"the agent still waits for acks of {last} events after {time.monotonic() - started:.0f} s"


async def test_hub_killed_mid_stream_stores_every_event_once(mosquitto: Mosquitto, db_url: str, tmp_path: Path) -> None:
    prefix, port = unique_prefix(), free_port()
    config = tmp_path / "hub.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "mqtt": {"url": mosquitto.url, "topic_prefix": prefix, "client_id": f"hub-{port}"},
                "database": {"url": db_url},
                "api": {"port": port},
                "gateways": {"enrolment": "open"},
            }
        )
    )
    spool = Spool(tmp_path / "spool.db", max_events=100_000)
    for index in range(EVENTS):
        alarm = index % 10 == 0
        spool.append(
            lambda seq, alarm=alarm, index=index: Event(
                event_id=new_event_id(),
                seq=seq,
                device_id=f"d-{index % 50}",
                ts=utc_now(),
                type="alarm.raised" if alarm else "availability.changed",
                alarm_type="intrusion" if alarm else None,
                zone=index % 4 + 1 if alarm else None,
                availability=None if alarm else ("online" if index % 2 else "degraded"),
            )
        )
    sent_ids = {e for (e,) in spool._db.execute("SELECT event_id FROM events")}
    assert len(sent_ids) == EVENTS

    def birth() -> Birth:
        devices = [DeviceInfo(id=f"d-{i}", kind="fence", profile="fence/x", interval_s=1) for i in range(50)]
        return Birth(ts=utc_now(), seq=spool.last_seq, devices=devices)

    def snapshot() -> Snapshot:
        s = spool.stats()
        stats = SpoolStats(pending_events=s.pending_events, pending_alarms=s.pending_alarms, dropped_telemetry=0)
        return Snapshot(ts=utc_now(), seq=s.last_seq, interval_s=1, devices=[], spool=stats)

    publisher = Publisher(
        MqttSettings(url=mosquitto.url, topic_prefix=prefix, keepalive_s=5),
        SpoolSettings(path=tmp_path / "spool.db", ack_timeout_s=2, window=2_000),
        school_id="school-k",
        gateway_id="gw-01",
        spool=spool,
        birth=birth,
        snapshot=snapshot,
        on_command=lambda command: None,
        snapshot_interval_s=1,
    )
    hub = start_hub(config, tmp_path / "hub.log")
    stop = asyncio.Event()
    try:
        await wait_healthy(port)
        sender = asyncio.create_task(publisher.run(stop))
        deadline = time.monotonic() + 30
        while len(stored(db_url)) < 300 and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        hub.send_signal(signal.SIGKILL)
        hub.wait()
        at_kill = len(stored(db_url))
        pending_at_kill = spool.stats().pending_events
        assert 0 < at_kill < EVENTS and pending_at_kill > 0, (at_kill, pending_at_kill)

        hub = start_hub(config, tmp_path / "hub.log")
        await drained(spool)
        ids = stored(db_url)
        assert len(ids) == EVENTS and set(ids) == sent_ids
        stop.set()
        async with asyncio.timeout(20):  # the agent's publisher must stop; never hang the suite on it
            await sender
    finally:
        stop.set()
        if "sender" in locals() and not sender.done():  # a failed assertion: the publisher goes before its spool
            sender.cancel()
            with contextlib.suppress(BaseException):
                await sender
        if hub.poll() is None:
            hub.terminate()
            hub.wait(10)
        spool.close()
