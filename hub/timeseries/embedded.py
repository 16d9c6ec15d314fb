"""The embedded time-series store: every heartbeat's numbers in a SQLite file of its own, downsampled.

For a hub without InfluxDB (a school, a small district, the demo): ``timeseries.backend: embedded``.
It takes what ingest committed like the InfluxDB sink does (the same ``device`` and ``gateway``
numbers: metrics, ``online``, ``intact``, spool depths, ``lag_s``; text is not kept) and keeps

- ``raw``: each value as it came, for ``raw_days`` (default 7);
- ``m5``: count, sum, min and max per 5 minutes, for ``m5_days`` (default 90);
- ``d1``: the same per local day of the school (its time zone), for ever.

A series is (school, gateway, device, field); the device is empty for a gateway's own numbers.
Rows are written in batches from a worker thread, never on the event loop; the queue is bounded by
``buffer_max`` values, past which the oldest are dropped and counted, as with InfluxDB. Rollups and
retention run every ``rollup_s``. ``query`` picks the finest table that covers the range.
"""

import asyncio
import contextlib
import logging
import math
import sqlite3
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from hub.domain.rates import INTACT, UP
from hub.domain.state import ReceivedSnapshot
from hub.sinks import Committed
from hub.timeseries.buffer import Bounded
from hub.timeseries.settings import TimeSeriesSettings

if TYPE_CHECKING:
    from hub.settings import HubSettings

log = logging.getLogger(__name__)
M5 = 300_000  # ms
DAY = 86_400_000
Key = tuple[str, str, str, str]  # school, gateway, device, field
Value = tuple[Key, int, float]  # series, time (ms), value

SCHEMA = """
CREATE TABLE IF NOT EXISTS series (id INTEGER PRIMARY KEY, school TEXT NOT NULL, gateway TEXT NOT NULL,
  device TEXT NOT NULL, field TEXT NOT NULL, tz TEXT NOT NULL, UNIQUE (school, gateway, device, field));
CREATE TABLE IF NOT EXISTS raw (series INTEGER NOT NULL, ts INTEGER NOT NULL, value REAL NOT NULL,
  PRIMARY KEY (series, ts)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS m5 (series INTEGER NOT NULL, bucket INTEGER NOT NULL, n INTEGER NOT NULL,
  sum REAL NOT NULL, min REAL NOT NULL, max REAL NOT NULL, PRIMARY KEY (series, bucket)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS d1 (series INTEGER NOT NULL, bucket INTEGER NOT NULL, n INTEGER NOT NULL,
  sum REAL NOT NULL, min REAL NOT NULL, max REAL NOT NULL, PRIMARY KEY (series, bucket)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


def ms(at: datetime) -> int:
    return int(at.astimezone(UTC).timestamp() * 1000)


def values(received: ReceivedSnapshot) -> Iterator[Value]:
    """The numbers of one heartbeat: each owned device's metrics, online and intact; the gateway's."""
    snap, school, gateway = received.snapshot, received.school_id, received.gateway_id
    at = ms(snap.ts)
    for status in snap.devices:
        if not received.owns(status.device_id):
            continue
        numbers = {k: v for k, v in status.metrics.items() if isinstance(v, int | float)}
        numbers["online"] = int(status.availability in UP)
        numbers["intact"] = int(status.availability in INTACT)
        for field, value in numbers.items():
            if math.isfinite(value):
                yield (school, gateway, status.device_id, field), at, float(value)
    own = {"lag_s": (received.received_at - snap.ts).total_seconds(), "devices": len(snap.devices)}
    if snap.spool is not None:
        own |= {"pending_events": snap.spool.pending_events, "pending_alarms": snap.spool.pending_alarms}
    for field, value in own.items():
        yield (school, gateway, "", field), at, float(value)


class EmbeddedStore:
    """A ``hub.sinks.Sink`` with a task of its own (``run``) that writes to a SQLite file."""

    name = "timeseries"
    heartbeats = True

    def __init__(self, settings: TimeSeriesSettings, tz_of: Callable[[str], ZoneInfo], path: Path) -> None:
        self.settings, self.tz_of, self.path = settings, tz_of, path
        self._values: Bounded[Value] = Bounded(settings.buffer_max)
        self.written = self.failures = self.lost = 0  # lost: values a failed write could not keep
        self._wake = asyncio.Event()
        self._lock = threading.Lock()
        self._ids: dict[Key, int] = {}
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")  # a lost second of metrics is no alarm lost
        self._db.executescript(SCHEMA)

    # --- the sink -------------------------------------------------------------------------------

    @property
    def held(self) -> int:
        return len(self._values)

    @property
    def received(self) -> int:
        return self._values.received

    @property
    def dropped(self) -> int:
        """Values dropped past ``buffer_max``, and those a failed write lost."""
        return self._values.dropped + self.lost

    def committed(self, commit: Committed) -> None:
        self._values.extend([v for received in commit.snapshots for v in values(received)])
        if self.held >= self.settings.batch_max:
            self._wake.set()

    def add(self, lines: list[str]) -> None:
        """Line protocol is InfluxDB's: the embedded store keeps its own rows (daily rates come from
        ``/api/v1/rates``, computed from transitions whenever asked)."""

    # --- writing --------------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Write batches until ``stop``; roll up and apply retention every ``rollup_s``."""
        next_rollup = 0.0
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.settings.flush_s):
                    await self._wake.wait()
            self._wake.clear()
            await self._flush()
            if loop.time() >= next_rollup:
                await asyncio.to_thread(self.rollup, datetime.now(UTC))
                next_rollup = loop.time() + self.settings.embedded.rollup_s
        await self._flush()

    def close(self) -> None:
        """Close the file (after ``run`` has ended)."""
        with self._lock:
            self._db.close()

    async def _flush(self) -> None:
        while batch := self._values.take(self.settings.batch_max):
            try:
                await asyncio.to_thread(self._insert, batch)
                self.written += len(batch)
            except sqlite3.Error as exc:  # a full disk, a broken file: count, keep going, never block ingest
                self.failures += 1
                self.lost += len(batch)
                log.warning("embedded time series: %d values not written: %s", len(batch), exc)

    def _series(self, key: Key) -> int:
        found = self._ids.get(key)
        if found is None:
            tz = self.tz_of(key[0]).key
            self._db.execute(
                "INSERT OR IGNORE INTO series (school, gateway, device, field, tz) VALUES (?, ?, ?, ?, ?)", (*key, tz)
            )
            (found,) = self._db.execute(
                "SELECT id FROM series WHERE school = ? AND gateway = ? AND device = ? AND field = ?", key
            ).fetchone()
            self._ids[key] = found
        return found

    def _insert(self, batch: list[Value]) -> None:
        with self._lock:
            self._db.execute("BEGIN")
            try:
                rows = [(self._series(key), at, value) for key, at, value in batch]
                self._db.executemany("INSERT OR REPLACE INTO raw (series, ts, value) VALUES (?, ?, ?)", rows)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                self._ids.clear()  # ids made in the rolled-back transaction are gone
                raise

    # --- rollups and retention ------------------------------------------------------------------

    def _meta(self, key: str, default: int) -> int:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return int(row[0]) if row else default

    def _set_meta(self, key: str, value: int) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def rollup(self, now: datetime) -> None:
        """5-minute buckets that have ended, local days that have ended, then retention (blocking)."""
        embedded = self.settings.embedded
        with self._lock:
            self._db.execute("BEGIN")
            try:
                self._roll_m5(ms(now))
                for zone in [z for (z,) in self._db.execute("SELECT DISTINCT tz FROM series")]:
                    self._roll_days(ZoneInfo(zone), now)
                self._db.execute("DELETE FROM raw WHERE ts < ?", (ms(now - timedelta(days=embedded.raw_days)),))
                self._db.execute("DELETE FROM m5 WHERE bucket < ?", (ms(now - timedelta(days=embedded.m5_days)),))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def _roll_m5(self, now_ms: int) -> None:
        start = self._meta("m5_until", 0)
        if start == 0:
            first = self._db.execute("SELECT min(ts) FROM raw").fetchone()[0]
            start = (first // M5) * M5 if first is not None else (now_ms // M5) * M5
        end = (now_ms // M5) * M5  # the bucket under way is not rolled yet
        if end > start:
            self._db.execute(
                "INSERT OR REPLACE INTO m5 SELECT series, (ts / ?) * ?, count(*), sum(value), min(value), max(value) "
                "FROM raw WHERE ts >= ? AND ts < ? GROUP BY series, (ts / ?) * ?",
                (M5, M5, start, end, M5, M5),
            )
            self._set_meta("m5_until", end)

    def _roll_days(self, tz: ZoneInfo, now: datetime) -> None:
        key = f"d1_until:{tz.key}"
        today = now.astimezone(tz).date()
        done = self._meta(key, 0)
        first = self._db.execute("SELECT min(bucket) FROM m5").fetchone()[0]
        if first is None:
            return
        day = date.fromordinal(done) if done else datetime.fromtimestamp(first / 1000, tz).date()
        while day < today:
            start, end = _local_midnight(day, tz), _local_midnight(day + timedelta(days=1), tz)
            self._db.execute(
                "INSERT OR REPLACE INTO d1 SELECT m5.series, ?, sum(n), sum(sum), min(min), max(max) FROM m5 "
                "JOIN series ON series.id = m5.series WHERE series.tz = ? AND bucket >= ? AND bucket < ? "
                "GROUP BY m5.series",
                (start, tz.key, start, end),
            )
            day += timedelta(days=1)
        self._set_meta(key, today.toordinal())

    # --- reading --------------------------------------------------------------------------------

    def query(
        self, key: Key, start: datetime, end: datetime, now: datetime
    ) -> tuple[str, list[tuple[int, float, float, float]]]:
        """(table, [(time ms, mean, min, max)]) of one series over [start, end): ``raw`` if the range is
        within its retention and at most two days long, else ``m5`` within its retention, else ``d1``."""
        embedded = self.settings.embedded
        span = end - start
        if start >= now - timedelta(days=embedded.raw_days) and span <= timedelta(days=2):
            table = "raw"
        elif start >= now - timedelta(days=embedded.m5_days) and span <= timedelta(days=62):
            table = "m5"
        else:
            table = "d1"
        with self._lock:
            row = self._db.execute(
                "SELECT id FROM series WHERE school = ? AND gateway = ? AND device = ? AND field = ?", key
            ).fetchone()
            if row is None:
                return table, []
            if table == "raw":
                sql = "SELECT ts, value, value, value FROM raw WHERE series = ? AND ts >= ? AND ts < ? ORDER BY ts"
            else:
                sql = (
                    f"SELECT bucket, sum / n, min, max FROM {table} "  # noqa: S608 - table is one of two names
                    "WHERE series = ? AND bucket >= ? AND bucket < ? ORDER BY bucket"
                )
            return table, list(self._db.execute(sql, (row[0], ms(start), ms(end))))

    def gauges(self) -> dict[str, Callable[[], float]]:
        return {
            "timeseries_received_lines": lambda: float(self.received),
            "timeseries_buffered_lines": lambda: float(self.held),
            "timeseries_written_lines": lambda: float(self.written),
            "timeseries_dropped_lines": lambda: float(self.dropped),
            "timeseries_write_failures": lambda: float(self.failures),
        }


def embedded_path(settings: "HubSettings") -> Path:
    """Where the store lives: as configured, beside a SQLite hub database, or in the working folder."""
    if settings.timeseries.embedded.path is not None:
        return settings.timeseries.embedded.path
    url = settings.database.url
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        database = Path(url.removeprefix("sqlite:///"))
        return database.with_name(database.stem + ".timeseries.db")
    return Path("campusguard-timeseries.db")


def _local_midnight(day: date, tz: ZoneInfo) -> int:
    return ms(datetime(day.year, day.month, day.day, tzinfo=tz))
