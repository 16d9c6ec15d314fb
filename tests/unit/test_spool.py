"""The spool keeps events until acked, sends alarms first, and never drops alarms."""

from pathlib import Path

from agent.spool import Spool
from contract import Event
from contract.messages import new_event_id, utc_now


def _alarm(device: str = "d1") -> "callable":  # type: ignore[valid-type]
    return lambda seq: Event(
        event_id=new_event_id(), seq=seq, device_id=device, ts=utc_now(), type="alarm.raised", alarm_type="panic"
    )


def _telemetry(device: str = "d1") -> "callable":  # type: ignore[valid-type]
    return lambda seq: Event(
        event_id=new_event_id(),
        seq=seq,
        device_id=device,
        ts=utc_now(),
        type="availability.changed",
        availability="online",
    )


def test_alarms_are_due_first_and_in_order(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.db")
    spool.append(_telemetry())
    a = spool.append(_alarm())
    spool.append(_telemetry())
    b = spool.append(_alarm())
    due = spool.due(now=100.0, resend_after_s=10, limit=10)
    assert [seq for seq, _ in due] == [a.seq, b.seq, 1, 3]


def test_events_stay_until_acked_and_are_resent_after_the_timeout(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.db")
    event = spool.append(_alarm())
    spool.mark_sent([event.seq], now=100.0)
    assert spool.due(now=105.0, resend_after_s=10, limit=10) == []
    assert spool.in_flight(now=105.0, resend_after_s=10) == 1
    assert [s for s, _ in spool.due(now=111.0, resend_after_s=10, limit=10)] == [event.seq]
    assert spool.ack([event.event_id, "unknown-id"]) == 1
    assert spool.stats().pending_events == 0


def test_seq_survives_restart_and_an_empty_spool(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.db")
    event = spool.append(_alarm())
    spool.ack([event.event_id])
    spool.close()
    again = Spool(tmp_path / "s.db")
    assert again.append(_alarm()).seq == event.seq + 1


def test_unacked_events_survive_a_restart(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.db")
    ids = [spool.append(_alarm()).event_id for _ in range(5)]
    spool.close()
    again = Spool(tmp_path / "s.db")
    assert again.stats().pending_alarms == 5
    assert again.ack(ids) == 5


def test_cap_coalesces_then_drops_telemetry_but_keeps_every_alarm(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.db", max_events=100)
    for i in range(60):
        spool.append(_alarm(f"d{i % 3}"))
    for i in range(200):
        spool.append(_telemetry(f"d{i % 50}"))
    stats = spool.stats()
    assert stats.pending_alarms == 60
    assert stats.pending_events <= 100
    assert stats.dropped_telemetry == 260 - stats.pending_events
    # Only alarms now: going over the cap keeps them and counts it.
    for _ in range(60):
        spool.append(_alarm())
    stats = spool.stats()
    assert stats.pending_alarms == 120
    assert stats.alarms_over_cap > 0
