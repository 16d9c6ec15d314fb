"""The agent's durable outbox: every event stays here until the hub acks that it stored it.

A broker's PUBACK is not enough (mosquitto's default queue limit silently drops QoS1 messages), so
an event leaves the spool only on the hub's application-level ack. Sending order is alarms first,
then other events, each oldest first (by the per-gateway ``seq``). Above ``max_events`` the spool
first coalesces telemetry (latest availability change per device wins), then drops the oldest
telemetry, counting every drop. Alarms are never dropped: past the cap they are kept and counted.

Beside the events it keeps each device's alarm state (``agent.alarms``), written in the same
transaction as the alarm events that changed it, so a restarted agent knows what was up.

**A file that cannot be written never costs a press.** A failed write (full disk, I/O error, a
file system the kernel made read-only after an error) leaves nothing half-written in the file and
puts the spool in memory (``agent.outbox.MemoryOutbox``): what the file held is read into it if it
can be, new events are kept there, sent and acked as usual, and ``failure`` and ``write_errors``
say so (in every snapshot; the hub raises a ``spool_failure`` alarm). Each later write tries the
file first; once it takes one, whatever memory still holds is written back and the spool is a file
again. What only memory held is lost if the agent stops meanwhile: the price of a dead disk, not of
a dead process.
"""

import contextlib
import json
import logging
import sqlite3
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from agent.outbox import Held, MemoryOutbox
from contract import Event, encode

log = logging.getLogger(__name__)
T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY,
    event_id TEXT NOT NULL UNIQUE,
    is_alarm INTEGER NOT NULL,
    device_id TEXT NOT NULL,
    payload BLOB NOT NULL,
    sent_at REAL
);
CREATE INDEX IF NOT EXISTS events_order ON events (is_alarm DESC, seq);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS alarm_state (device_id TEXT PRIMARY KEY, state TEXT NOT NULL);
"""


class SpoolError(Exception):
    """The spool file could not be read or written (disk full, I/O error, read-only)."""


@dataclass(frozen=True, slots=True)
class SpoolStats:
    """What the spool holds and has dropped."""

    pending_events: int
    pending_alarms: int
    dropped_telemetry: int
    alarms_over_cap: int
    last_seq: int


class Spool:
    """A SQLite-backed event outbox. Calls are short and synchronous; one writer at a time."""

    def __init__(self, path: Path | str, max_events: int = 100_000) -> None:
        self.failure: str | None = None  # why the file cannot be written, until it can again
        self.write_errors = 0
        self.memory: MemoryOutbox | None = None  # the events while the file cannot be written
        self._states: dict[str, dict[str, Any]] = {}  # alarm states the file could not take yet
        self.path = Path(path)
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self.max_events = max_events
        self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self._lock = threading.Lock()
        self._db.execute("PRAGMA journal_mode=WAL")
        # Alarms must survive a power cut of the gateway, not only a crash of the process.
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(events)")}
        if "published" not in columns:  # a spool from before 1.2: what was sent is not known, say all
            self._db.execute("ALTER TABLE events ADD COLUMN published INTEGER NOT NULL DEFAULT 1")
        self._count = self._scalar("SELECT COUNT(*) FROM events")
        self._last_seq = self._meta("last_seq")
        self._dropped = self._meta("dropped_telemetry")

    def _scalar(self, sql: str, *args: object) -> int:
        row = self._db.execute(sql, args).fetchone()
        return int(row[0]) if row and row[0] is not None else 0

    def _meta(self, key: str) -> int:
        return self._scalar("SELECT value FROM meta WHERE key = ?", key)

    def _bump(self, key: str, by: int) -> None:
        self._db.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = value + excluded.value",
            (key, by),
        )

    @property
    def last_seq(self) -> int:
        """The last sequence number assigned (persists across restarts and an empty spool)."""
        return self._last_seq

    def append(self, build: Callable[[int], Event]) -> Event:
        """Assign the next seq, build the event with it, and keep it (durably, if the file takes it)."""
        return self.append_all([build])[0]

    def append_all(
        self, builds: list[Callable[[int], Event]], alarm_state: tuple[str, dict[str, Any]] | None = None
    ) -> list[Event]:
        """Keep events (each built with its seq) and, optionally, one device's alarm state, atomically."""
        if self.memory is None or self._recover():
            try:
                return self._append_to_file(builds, alarm_state)
            except SpoolError as exc:
                self._degrade(exc)
        assert self.memory is not None
        events: list[Event] = []
        with self._lock:
            for build in builds:
                self._last_seq += 1
                event = build(self._last_seq)
                self.memory.add(Held(event.seq, event.event_id, event.is_alarm, event.device_id, encode(event)))
                events.append(event)
            if alarm_state is not None:
                self._states[alarm_state[0]] = alarm_state[1]
        return events

    def _append_to_file(
        self, builds: list[Callable[[int], Event]], alarm_state: tuple[str, dict[str, Any]] | None
    ) -> list[Event]:
        events: list[Event] = []
        with self._lock, self._transaction():
            seq = max(self._meta("last_seq"), self._last_seq)
            for build in builds:
                seq += 1
                event = build(seq)
                self._db.execute(
                    "INSERT INTO events (seq, event_id, is_alarm, device_id, payload, published) VALUES (?,?,?,?,?,0)",
                    (seq, event.event_id, int(event.is_alarm), event.device_id, encode(event)),
                )
                events.append(event)
            if events:
                self._set_meta("last_seq", seq)
                self._count += len(events)
            if alarm_state is not None:
                self._write_state(*alarm_state)
            if self._count > self.max_events:
                self._enforce_cap()
        self._last_seq = max(self._last_seq, seq)
        return events

    def _set_meta(self, key: str, value: int) -> None:
        self._db.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    def _delete(self, event_ids: list[str], condition: str = "") -> int:
        """Delete events by id (500 to a statement), where ``condition`` (a constant) holds too."""
        removed = 0
        for start in range(0, len(event_ids), 500):
            chunk = event_ids[start : start + 500]
            sql = f"DELETE FROM events WHERE {condition}event_id IN ({','.join('?' * len(chunk))})"  # noqa: S608
            removed += self._db.execute(sql, chunk).rowcount
        return removed

    def _write_state(self, device_id: str, state: dict[str, Any]) -> None:
        self._db.execute(
            "INSERT INTO alarm_state (device_id, state) VALUES (?, ?) "
            "ON CONFLICT(device_id) DO UPDATE SET state = excluded.state",
            (device_id, json.dumps(state, separators=(",", ":"))),
        )

    # --- when the file cannot be written ------------------------------------------------------

    def _failed(self, exc: SpoolError) -> None:
        """Count a failed write; it is reported (``failure``) until a write succeeds."""
        self.write_errors += 1
        self.failure = str(exc)[:200]
        if self.write_errors % 100 == 1:
            log.error("spool write failed (%d so far), keeping events in memory: %s", self.write_errors, exc)

    def _degrade(self, exc: SpoolError) -> None:
        """Count a failed write and, the first time, move what the file holds into memory."""
        self._failed(exc)
        if self.memory is not None:
            return
        self.memory = MemoryOutbox(self.max_events)
        try:
            with self._lock, self._translated():
                rows = self._db.execute(
                    "SELECT seq, event_id, is_alarm, device_id, payload, sent_at, published FROM events"
                ).fetchall()
        except SpoolError as read_error:  # unreadable too: they come back with the file
            log.error("the spool cannot be read either: %s", read_error)
            return
        for seq, event_id, is_alarm, device_id, payload, sent_at, published in rows:
            held = Held(int(seq), str(event_id), bool(is_alarm), str(device_id), bytes(payload))
            held.sent_at, held.published = sent_at, bool(published)
            self.memory.add(held)

    def _recover(self) -> bool:
        """Write what memory holds back to the file; True once the spool is a file again."""
        memory = self.memory
        if memory is None:
            return True
        try:
            with self._lock, self._transaction():
                self._db.executemany(
                    "INSERT INTO events (seq, event_id, is_alarm, device_id, payload, sent_at, published) "
                    "VALUES (?,?,?,?,?,?,?) ON CONFLICT(event_id) DO UPDATE SET sent_at = excluded.sent_at, "
                    "published = excluded.published",
                    [held.row() for held in memory.held.values()],
                )
                self._delete(sorted(memory.gone))  # acked while in memory
                for device_id, state in self._states.items():
                    self._write_state(device_id, state)
                self._set_meta("last_seq", max(self._meta("last_seq"), self._last_seq))
                self._bump("dropped_telemetry", memory.dropped)
                self._count = self._scalar("SELECT COUNT(*) FROM events")
        except SpoolError as exc:
            self._failed(exc)
            return False
        log.warning("the spool file can be written again; %d events moved back from memory", len(memory.held))
        self.memory, self._states, self.failure = None, {}, None
        return True

    @contextlib.contextmanager
    def _translated(self) -> Iterator[None]:
        """A read or single write outside a transaction: a database error becomes a SpoolError."""
        try:
            yield
        except sqlite3.Error as exc:
            raise SpoolError(f"spool {self.path}: {exc}") from exc

    @contextlib.contextmanager
    def _transaction(self, durable: bool = True) -> Iterator[None]:
        """BEGIN ... COMMIT; on any failure roll back (a failed ROLLBACK must not hide why) and re-count.

        ``durable=False``: no fsync (synchronous=NORMAL in WAL mode), for what a power cut may undo at
        the cost of a resend the hub deduplicates; it survives a crash of the process all the same."""
        if not durable:
            self._db.execute("PRAGMA synchronous=NORMAL")
        try:
            self._db.execute("BEGIN IMMEDIATE")
            yield
            self._db.execute("COMMIT")
        except BaseException as exc:
            if self._db.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    self._db.execute("ROLLBACK")
            with contextlib.suppress(sqlite3.Error):
                self._count = self._scalar("SELECT COUNT(*) FROM events")
            if isinstance(exc, sqlite3.Error):
                raise SpoolError(f"spool {self.path}: {exc}") from exc
            raise
        finally:
            if not durable:
                with contextlib.suppress(sqlite3.Error):
                    self._db.execute("PRAGMA synchronous=FULL")

    def alarm_states(self) -> dict[str, dict[str, Any]]:
        """Every device's persisted alarm state (what ``AlarmTracker.export`` gave)."""
        with self._lock, self._translated():
            rows = self._db.execute("SELECT device_id, state FROM alarm_state").fetchall()
        states: dict[str, dict[str, Any]] = {}
        for device_id, text in rows:
            try:
                state = json.loads(text)
            except ValueError:
                log.warning("spool: unreadable alarm state of %s ignored", device_id)
                continue
            if isinstance(state, dict):
                states[str(device_id)] = state
        return states

    def _enforce_cap(self) -> None:
        excess = self._count - self.max_events
        # 1. Coalesce: keep only each device's latest unsent telemetry event.
        cur = self._db.execute(
            "DELETE FROM events WHERE is_alarm = 0 AND seq NOT IN "
            "(SELECT MAX(seq) FROM events WHERE is_alarm = 0 GROUP BY device_id)"
        )
        dropped = cur.rowcount
        # 2. Drop the oldest telemetry if still over.
        if dropped < excess:
            cur = self._db.execute(
                "DELETE FROM events WHERE seq IN (SELECT seq FROM events WHERE is_alarm = 0 ORDER BY seq LIMIT ?)",
                (excess - dropped,),
            )
            dropped += cur.rowcount
        if dropped:
            self._bump("dropped_telemetry", dropped)
            log.warning("spool over its cap of %d events: dropped %d telemetry events", self.max_events, dropped)
        self._count -= dropped
        if self._count > self.max_events:
            self._bump("alarms_over_cap", 1)
            log.error("spool holds %d events, over its cap, all alarms: keeping them", self._count)

    def _file_or_memory(self, in_file: Callable[[], T], in_memory: Callable[[MemoryOutbox], T]) -> T:
        """Do it in the file; if the file fails (or failed before), in memory."""
        if self.memory is None:
            try:
                return in_file()
            except SpoolError as exc:
                self._degrade(exc)
        assert self.memory is not None
        return in_memory(self.memory)

    def due(self, now: float, resend_after_s: float, limit: int) -> list[tuple[int, bytes]]:
        """Events to (re)send now: never sent, or sent before ``now - resend_after_s``; alarms first."""

        def in_file() -> list[tuple[int, bytes]]:
            with self._lock, self._translated():
                rows = self._db.execute(
                    "SELECT seq, payload FROM events WHERE sent_at IS NULL OR sent_at < ? "
                    "ORDER BY is_alarm DESC, seq LIMIT ?",
                    (now - resend_after_s, limit),
                ).fetchall()
            return [(int(seq), bytes(payload)) for seq, payload in rows]

        return self._file_or_memory(in_file, lambda memory: memory.due(now, resend_after_s, limit))

    def in_flight(self, now: float, resend_after_s: float) -> int:
        """How many events were sent recently and still wait for their ack."""

        def in_file() -> int:
            with self._lock, self._translated():
                sql = "SELECT COUNT(*) FROM events WHERE sent_at IS NOT NULL AND sent_at >= ?"
                return self._scalar(sql, now - resend_after_s)

        return self._file_or_memory(in_file, lambda memory: memory.in_flight(now, resend_after_s))

    def mark_sent(self, seqs: list[int], now: float | None) -> None:
        """These were handed to the broker at ``now``; None: after all they were not, due again at once."""

        def in_file() -> None:
            with self._lock, self._transaction(durable=False):  # one commit, not one (and an fsync) per event
                sql = "UPDATE events SET sent_at = ?, published = (published OR ?) WHERE seq = ?"
                self._db.executemany(sql, [(now, now is not None, s) for s in seqs])

        self._file_or_memory(in_file, lambda memory: memory.mark_sent(seqs, now))

    def mark_all_unsent(self) -> None:
        """After a reconnect, everything unacked is due again at once."""

        def in_file() -> None:
            with self._lock, self._transaction(durable=False):
                self._db.execute("UPDATE events SET sent_at = NULL")

        self._file_or_memory(in_file, MemoryOutbox.mark_all_unsent)

    def ack(self, event_ids: list[str]) -> int:
        """Forget events the hub has stored; return how many. Only published events can be acked: an
        id never published cannot have reached a hub, so an ack naming it is forged and ignored."""
        return self._file_or_memory(lambda: self._ack_in_file(event_ids), lambda memory: memory.ack(event_ids))

    def _ack_in_file(self, event_ids: list[str]) -> int:
        with self._lock, self._transaction(durable=False):  # a power cut brings them back: resent, deduplicated
            removed = self._delete(event_ids, "published = 1 AND ")
            self._count -= removed
        return removed

    def stats(self) -> SpoolStats:
        """Counts for the status snapshot and metrics; held in memory, it tries the file again first."""
        if self.memory is None or self._recover():
            try:
                with self._lock, self._translated():
                    self._dropped = self._meta("dropped_telemetry")
                    return SpoolStats(
                        pending_events=self._count,
                        pending_alarms=self._scalar("SELECT COUNT(*) FROM events WHERE is_alarm = 1"),
                        dropped_telemetry=self._dropped,
                        alarms_over_cap=self._meta("alarms_over_cap"),
                        last_seq=self._last_seq,
                    )
            except SpoolError as exc:
                self._degrade(exc)
        assert self.memory is not None
        return SpoolStats(
            pending_events=len(self.memory.held),
            pending_alarms=self.memory.alarms(),
            dropped_telemetry=self._dropped + self.memory.dropped,
            alarms_over_cap=0,
            last_seq=self._last_seq,
        )

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()
