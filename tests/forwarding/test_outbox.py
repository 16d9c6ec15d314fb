"""The durable outbox: rows commit with their alarms; the worker delivers in order, fails over, retries."""

import asyncio
import os
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from contract import Event
from contract.messages import new_event_id, utc_now
from hub import ledger
from hub.db.models import Alarm
from hub.forwarding.dc09 import Dc09Link
from hub.forwarding.sender import Dc09Sender, Sender
from hub.forwarding.settings import Dc09Receiver
from hub.store import alarm_dict
from tests.forwarding.receiver import Arc, Proxy, account, sia_receiver
from tests.forwarding.support import dc09, forwarding, hub_store, until

pytestmark = pytest.mark.integration

POLICE = {"name": "police", "schools": ["*"], "kinds": ["intrusion", "door_forced"], "primary": "arc-1"}
# The issue asks for 60 s; CAMPUSGUARD_FORWARD_OUTAGE_S shortens it for quick local runs.
OUTAGE_S = float(os.environ.get("CAMPUSGUARD_FORWARD_OUTAGE_S", "60"))


@pytest.fixture
async def arc() -> AsyncIterator[Arc]:
    async with sia_receiver([account("1234"), account("AAA1")]) as receiver:
        yield receiver


async def test_outbox_rows_commit_with_their_alarm(db_url: str) -> None:
    settings = forwarding({"arc-1": dc09(1)}, [POLICE])
    async with hub_store(db_url, settings, run=False) as hub:
        hub.raise_alarm("panic-1", "panic")  # panic: always forwarded
        hub.raise_alarm("gate-1", "tamper")  # not in the route's kinds
        hub.raise_alarm("fence-1", "intrusion")
        hub.raise_alarm("panic-1", "door_forced")  # same device: same zone
        hub.raise_alarm("fence-9", "intrusion", school_id="school-b")
        hub.raise_alarm("panic-7", "panic", school_id="school-z")  # no account configured
        rows = hub.rows()
        assert [(r.kind, r.school_id, r.zone, r.area, r.cid, r.sia, r.account, r.state) for r in rows] == [
            ("panic", "school-a", 1, 1, 120, "PA", "1234", "pending"),
            ("intrusion", "school-a", 2, 1, 131, "BA", "1234", "pending"),
            ("door_forced", "school-a", 1, 1, 423, "DF", "1234", "pending"),
            ("intrusion", "school-b", 1, 2, 131, "BA", "AAA1", "pending"),
            ("panic", "school-z", 1, 1, 120, "PA", None, "unroutable"),
        ]
        assert "school-z" in (rows[-1].last_error or "")

        # An alarm whose transaction rolls back leaves no outbox row either.
        event = Event(
            event_id=new_event_id(), seq=99, device_id="panic-2", ts=utc_now(), type="alarm.raised", alarm_type="panic"
        )

        def failing_batch() -> None:
            with hub.sessions.begin() as session:
                [alarm] = ledger.apply_event(session, "school-a", "gw-01", event, utc_now())
                session.flush()
                assert hub.forwarder.outbox.enqueue(session, [alarm_dict(alarm)], utc_now()) == 1
                raise RuntimeError("the batch fails after the hook")

        with pytest.raises(RuntimeError, match="after the hook"):
            failing_batch()
        assert len(hub.rows()) == 5
        with hub.sessions() as session:
            assert session.scalar(select(Alarm).where(Alarm.device_id == "panic-2")) is None


async def test_each_zone_of_a_zoned_device_reaches_the_receiver_as_a_zone_of_its_own(db_url: str) -> None:
    # Zones 2 and 4 of one fence controller are two places on the wall: the police must tell them apart.
    school = {"account": "1234", "zones": {"fence-1:4": 40, "gate-1": 7}}
    settings = forwarding({"arc-1": dc09(1)}, [POLICE], schools={"school-a": school})
    async with hub_store(db_url, settings, run=False) as hub:
        hub.raise_alarm("fence-1", "intrusion", zone=2)
        hub.raise_alarm("fence-1", "intrusion", zone=4)  # mapped in hub.yaml
        hub.raise_alarm("fence-1", "intrusion", zone=2, event="alarm.cleared")
        hub.raise_alarm("fence-1", "intrusion", zone=2)  # again: the same number as before
        hub.raise_alarm("gate-1", "door_forced")
        assert [(r.zone, r.restore) for r in hub.rows()] == [(1, False), (40, False), (1, False), (7, False)]


async def test_delivered_in_order_with_every_attempt_recorded(db_url: str, arc: Arc) -> None:
    settings = forwarding({"arc-1": dc09(arc.port)}, [POLICE])
    async with hub_store(db_url, settings) as hub:
        for i in range(1, 6):
            hub.raise_alarm(f"dev-{i}", "panic" if i % 2 else "intrusion")
        events = await arc.wait_for(5, 10)
        await until(lambda: all(r.state == "delivered" for r in hub.rows()), 5)
        rows, attempts = hub.rows(), hub.attempts()
    assert [(e.code, e.ri) for e in events] == [
        ("PA", "001"),
        ("BA", "002"),
        ("PA", "003"),
        ("BA", "004"),
        ("PA", "005"),
    ]
    assert all(r.delivered_to == "arc-1" and r.attempts == 1 for r in rows)
    assert [(a.outbox_id, a.receiver, a.result) for a in attempts] == [(r.id, "arc-1", "ack") for r in rows]
    assert all(a.seq and a.rtt_ms is not None and a.finished_at for a in attempts)


async def test_primary_down_the_backup_receives_and_trouble_is_raised_then_cleared(tmp_path: Path, arc: Arc) -> None:
    async with sia_receiver([account("1234")]) as backup:
        primary = await Proxy(arc.port).start()
        await primary.down()
        receivers = {"arc-1": dc09(primary.port, null_interval_s=0.3), "arc-2": dc09(backup.port)}
        settings = forwarding(receivers, [{**POLICE, "backup": "arc-2"}])
        try:
            async with hub_store(f"sqlite:///{tmp_path / 'hub.db'}", settings) as hub:
                for i in range(1, 4):
                    hub.raise_alarm(f"dev-{i}", "panic")
                got = await backup.wait_for(3, 10)
                await until(lambda: all(r.state == "delivered" for r in hub.rows()), 5)
                assert [(e.code, e.ri) for e in got] == [("PA", "001"), ("PA", "002"), ("PA", "003")]
                assert arc.events == [] and [r.delivered_to for r in hub.rows()] == ["arc-2"] * 3
                results = [(a.receiver, a.result) for a in hub.attempts()]
                assert results[:3] == [("arc-1", "unreachable"), ("arc-1", "unreachable"), ("arc-2", "ack")]
                assert results[3:] == [("arc-2", "ack")] * 2  # the backup stays preferred after a failover

                def trouble() -> Alarm | None:
                    with hub.sessions() as session:
                        return session.scalar(select(Alarm).where(Alarm.kind == "communication_trouble"))

                raised = await until(trouble, 5)
                assert (raised.device_id, raised.condition, raised.severity) == ("arc-1", "active", "critical")
                await primary.up()  # NULL supervision finds it answering again
                cleared = await until(lambda: (t := trouble()) is not None and t.condition == "cleared" and t, 5)
                assert cleared.id == raised.id
        finally:
            await primary.stop()


async def test_a_timestamp_nak_is_corrected_and_the_resend_delivered(tmp_path: Path) -> None:
    async with sia_receiver([account("1234", timeband=(5, 5))]) as strict:
        settings = forwarding({"arc-1": dc09(strict.port)}, [POLICE])
        slow = Dc09Link(  # the hub's clock is 2 minutes slow
            "arc-1", Dc09Receiver.model_validate(dc09(strict.port)), clock=lambda: utc_now() - timedelta(seconds=120)
        )
        senders: dict[str, Sender] = {"arc-1": Dc09Sender("arc-1", slow)}
        async with hub_store(f"sqlite:///{tmp_path / 'hub.db'}", settings, senders=senders) as hub:
            hub.raise_alarm("panic-1", "panic")
            events = await strict.wait_for(1, 10)
            await until(lambda: hub.rows()[0].state == "delivered", 5)
            attempts = hub.attempts()
    assert [(e.code, e.ri) for e in events] == [("PA", "001")]
    assert strict.client.counts.error_timestamp == 1
    assert [(a.result, a.detail) for a in attempts] == [("ack", "clock corrected after a NAK")]


async def test_receiver_down_then_up_every_alarm_once_in_order(tmp_path: Path, arc: Arc) -> None:
    proxy = await Proxy(arc.port).start()
    settings = forwarding({"arc-1": dc09(proxy.port)}, [POLICE])
    kinds = ["panic", "intrusion", "door_forced"]
    try:
        async with hub_store(f"sqlite:///{tmp_path / 'hub.db'}", settings) as hub:
            hub.raise_alarm("dev-1", "panic")
            await arc.wait_for(1, 5)
            # Wait for the ACK to reach the hub: cut before it, and the receiver has an alarm whose
            # ACK was lost; the resend would then be a true duplicate (see docs/forwarding.md).
            await until(lambda: hub.rows()[0].state == "delivered", 5)
            await proxy.down()
            down_at = time.monotonic()
            sent = 12
            for i in range(2, sent + 1):  # alarms keep coming during the outage
                hub.raise_alarm(f"dev-{i}", kinds[i % 3])
                await asyncio.sleep(OUTAGE_S / sent)
            await asyncio.sleep(max(0.0, OUTAGE_S - (time.monotonic() - down_at)))
            assert len(arc.data_events()) == 1
            stuck = hub.rows()[1]
            assert stuck.state == "pending" and stuck.rounds >= 3 and stuck.attempts >= 6
            await proxy.up()
            up_at = time.monotonic()
            await arc.wait_for(sent, 10)
            caught_up_s = time.monotonic() - up_at
            await asyncio.sleep(1.5)  # anything sent twice would arrive by now
            rows = hub.rows()
    finally:
        await proxy.stop()
    events = arc.data_events()
    expected = [("PA", "001")] + [
        ({"panic": "PA", "intrusion": "BA", "door_forced": "DF"}[kinds[i % 3]], f"{i:03d}") for i in range(2, sent + 1)
    ]
    assert [(e.code, e.ri) for e in events] == expected  # each exactly once, in order
    assert all(r.state == "delivered" for r in rows)
    assert caught_up_s < 3, caught_up_s  # backoff is capped at retry.max_s (1 s here)
