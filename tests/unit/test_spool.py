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


def test_events_a_failed_batch_did_not_hand_over_are_due_again_at_once(tmp_path: Path) -> None:
    for where in ("file", "memory"):
        spool = Spool(tmp_path / f"{where}.db")
        if where == "memory":
            spool._db.execute("PRAGMA query_only = 1")
        events = [spool.append(_alarm()) for _ in range(3)]
        seqs = [e.seq for e in events]
        spool.mark_sent(seqs, now=100.0)  # before the batch goes out
        assert spool.due(now=101.0, resend_after_s=10, limit=10) == []
        spool.mark_sent(seqs[1:], None)  # the connection failed after the first publish
        assert [s for s, _ in spool.due(now=101.0, resend_after_s=10, limit=10)] == seqs[1:], where
        assert spool.ack([events[0].event_id]) == 1, where
        assert (spool.memory is not None) == (where == "memory")


def test_seq_survives_restart_and_an_empty_spool(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.db")
    event = spool.append(_alarm())
    spool.ack([event.event_id])
    spool.close()
    again = Spool(tmp_path / "s.db")
    assert again.append(_alarm()).seq == event.seq + 1


def test_unacked_events_survive_a_restart(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.db")
    events = [spool.append(_alarm()) for _ in range(5)]
    spool.mark_sent([e.seq for e in events], now=100.0)
    spool.close()
    again = Spool(tmp_path / "s.db")
    assert again.stats().pending_alarms == 5
    assert again.ack([e.event_id for e in events]) == 5


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


def test_an_ack_for_an_event_never_published_is_ignored(tmp_path: Path) -> None:
    # Only the hub can ack, and it can only have seen what was published: anything else is forged.
    spool = Spool(tmp_path / "s.db")
    sent, held = spool.append(_alarm()), spool.append(_alarm())
    spool.mark_sent([sent.seq], now=100.0)
    spool.mark_all_unsent()  # a reconnect: due again, but it was published
    assert spool.ack([held.event_id, "0190a0a0-0000-7000-8000-00000000dead"]) == 0
    assert spool.stats().pending_alarms == 2
    assert spool.ack([sent.event_id]) == 1
    assert [seq for seq, _ in spool.due(now=100.0, resend_after_s=10, limit=10)] == [held.seq]


def test_a_spool_from_before_the_published_column_keeps_working(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "old.db"
    with sqlite3.connect(path) as db:
        db.executescript(
            "CREATE TABLE events (seq INTEGER PRIMARY KEY, event_id TEXT NOT NULL UNIQUE, is_alarm INTEGER NOT NULL,"
            " device_id TEXT NOT NULL, payload BLOB NOT NULL, sent_at REAL);"
            "INSERT INTO events VALUES (1, 'old-event-1', 1, 'd1', x'7b7d', 5.0);"
        )
    spool = Spool(path)
    assert spool.ack(["old-event-1"]) == 1  # sent by the old agent: its ack still counts


def test_a_file_that_cannot_be_written_keeps_events_in_memory_and_takes_them_back(tmp_path: Path) -> None:
    # Read-only, as a spool on a file system the kernel made read-only behaves (SQLITE_READONLY).
    spool = Spool(tmp_path / "s.db")
    first = spool.append(_alarm())
    spool.mark_sent([first.seq], now=100.0)
    spool._db.execute("PRAGMA query_only = 1")

    held = spool.append_all([_alarm(), _telemetry()], ("d1", {"panic": {"active": True}}))
    assert [e.seq for e in held] == [first.seq + 1, first.seq + 2]  # seqs go on
    assert spool.failure is not None and "readonly" in spool.failure and spool.write_errors >= 1
    assert spool.memory is not None  # what the file held came along
    assert [seq for seq, _ in spool.due(now=105.0, resend_after_s=10, limit=10)] == [2, 3]
    assert spool.in_flight(now=105.0, resend_after_s=10) == 1
    spool.mark_sent([2, 3], now=106.0)
    assert spool.ack([first.event_id, held[0].event_id]) == 2  # acks work on what memory holds
    stats = spool.stats()  # tries the file again: still read-only
    assert (stats.pending_events, stats.pending_alarms, stats.last_seq) == (1, 0, 3)
    assert spool.failure is not None

    spool._db.execute("PRAGMA query_only = 0")  # the disk is back
    last = spool.append(_alarm())
    assert last.seq == 4 and spool.failure is None and spool.memory is None
    spool.close()
    again = Spool(tmp_path / "s.db")  # what memory held was written back, what was acked is gone
    assert [seq for seq, _ in again.due(now=1e12, resend_after_s=10, limit=10)] == [4, 3]
    assert again.ack([held[1].event_id]) == 1  # published while in memory: its ack still counts
    assert again.last_seq == 4
    assert again.alarm_states() == {"d1": {"panic": {"active": True}}}


def test_in_memory_the_cap_drops_telemetry_but_keeps_every_alarm(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.db", max_events=4)
    spool._db.execute("PRAGMA query_only = 1")
    for _ in range(3):
        spool.append(_telemetry("d1"))
    alarms = [spool.append(_alarm()) for _ in range(5)]
    stats = spool.stats()
    assert stats.pending_alarms == 5 and stats.pending_events == 5 and stats.dropped_telemetry == 3
    assert [seq for seq, _ in spool.due(now=0.0, resend_after_s=10, limit=10)] == [a.seq for a in alarms]
