"""Points the hub computes itself: each local day's 在线率 and 完好率 per device, school, district and
city (``daily_rate``), and the hub's own counters (``hub``, every ``hub_every_s``).

Grafana cannot total time in a state (its state timeline has no totals, and InfluxQL has no
time-weighted mean of a state), so the hub writes the rates it computes itself (``hub.domain.rates``):
measurement ``daily_rate``, tags ``level`` (device | school | district | city), ``school``,
``district``, ``device``, ``kind``; fields ``online_rate``, ``intact_rate``, ``coverage`` (absent
when nothing is known: never 100 %), and the seconds ``online_s``, ``degraded_s``, ``offline_s``,
``unknown_s``; the time is the local midnight that starts the day, so a day cut in Shanghai is
stamped 16:00 UTC the day before.

The leader hub checks every ``daily_check_s`` for local days that have ended (each school in its own
time zone) and writes each once per process; on start it writes the last ``daily_backfill_days``
again. Writing a day twice is harmless: the same series at the same time is the same point.
"""

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from hub.db.models import School
from hub.domain.rates import Tally, tally
from hub.rates import device_facts, device_histories
from hub.settings import HubSettings
from hub.timeseries.lineproto import FieldValue, line_of, ns, series
from hub.timeseries.sink import TimeSeriesSink

if TYPE_CHECKING:
    from hub.metrics import Metrics

log = logging.getLogger(__name__)


def _fields(t: Tally) -> dict[str, FieldValue]:
    return {
        "online_rate": t.online_rate,
        "intact_rate": t.intact_rate,
        "coverage": t.coverage,
        "online_s": t.online_s,
        "degraded_s": t.degraded_s,
        "offline_s": t.offline_s,
        "unknown_s": t.unknown_s,
    }


def day_lines(
    start: datetime, devices: dict[tuple[str, str], tuple[str, Tally]], district_of: dict[str, str | None]
) -> list[str]:
    """One day's lines: every device, then each school, district and the whole (of these devices)."""
    stamp = ns(start)
    schools: dict[str, Tally] = defaultdict(Tally)
    out = []
    for (school, device), (kind, t) in sorted(devices.items()):
        tags = {
            "level": "device",
            "school": school,
            "district": district_of.get(school),
            "device": device,
            "kind": kind,
        }
        out.append(line_of(series("daily_rate", tags), _fields(t), stamp))
        schools[school] = schools[school] + t
    districts: dict[str, Tally] = defaultdict(Tally)
    for school, t in sorted(schools.items()):
        district = district_of.get(school)
        out.append(
            line_of(
                series("daily_rate", {"level": "school", "school": school, "district": district}), _fields(t), stamp
            )
        )
        if district:
            districts[district] = districts[district] + t
    for district, t in sorted(districts.items()):
        out.append(line_of(series("daily_rate", {"level": "district", "district": district}), _fields(t), stamp))
    whole = sum(schools.values(), Tally())
    out.append(line_of(series("daily_rate", {"level": "city"}), _fields(whole), stamp))
    return [text for text in out if text is not None]


def compute_day(session: Session, settings: HubSettings, schools: list[str], day: date, tz: ZoneInfo) -> list[str]:
    """The lines of one local day for these schools (which share ``tz``)."""
    start = datetime(day.year, day.month, day.day, tzinfo=tz).astimezone(UTC)
    nxt = day + timedelta(days=1)
    end = datetime(nxt.year, nxt.month, nxt.day, tzinfo=tz).astimezone(UTC)
    facts = device_facts(session, schools)
    devices = {
        key: (facts[key][0], tally(h.initial, h.changes, start, end))
        for key, h in device_histories(session, sorted(facts), start, end)
    }
    return day_lines(start, devices, {s.id: s.district for s in settings.schools})


class DailyRates:
    """The leader's daily job: the days that ended, as ``daily_rate`` lines into the sink."""

    def __init__(
        self,
        settings: HubSettings,
        sessions: sessionmaker[Session],
        sink: TimeSeriesSink,
        is_leader: Callable[[], bool],
        now: Callable[[], datetime],
    ) -> None:
        self.settings, self.sessions, self.sink = settings, sessions, sink
        self.is_leader, self.now = is_leader, now
        self.written: set[tuple[str, date]] = set()  # (time zone, local day) written by this process
        self.days_written = 0

    def _zones(self, session: Session) -> dict[str, list[str]]:
        schools = {s.id for s in self.settings.schools} | set(session.scalars(select(School.id)))
        zones: dict[str, list[str]] = defaultdict(list)
        for school in sorted(schools):
            zones[self.settings.school_tz(school).key].append(school)
        return zones

    def due(self) -> list[str]:
        """Write every ended day not yet written (blocking: run it in a thread); the lines queued."""
        lines: list[str] = []
        backfill = self.settings.timeseries.daily_backfill_days
        with self.sessions() as session:
            for zone, schools in self._zones(session).items():
                today = self.now().astimezone(ZoneInfo(zone)).date()
                for back in range(backfill, 0, -1):
                    day = today - timedelta(days=back)
                    if (zone, day) not in self.written:
                        lines += compute_day(session, self.settings, schools, day, ZoneInfo(zone))
                        self.written.add((zone, day))
                        self.days_written += 1
        return lines

    async def run(self, stop: asyncio.Event) -> None:
        """Until ``stop``: on the leader, the ended days into the sink, every ``daily_check_s``."""
        while not stop.is_set():
            if self.is_leader():
                lines = await asyncio.to_thread(self.due)
                if lines:
                    self.sink.add(lines)
                    log.info("daily rates: %d lines queued (%d days so far)", len(lines), self.days_written)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.settings.timeseries.daily_check_s):
                    await stop.wait()


def hub_line(metrics: "Metrics", hub_id: str, at: datetime) -> str | None:
    """The hub's own counters and gauges as one ``hub`` line (its self-monitoring dashboard)."""
    fields: dict[str, FieldValue] = {
        "messages": sum(metrics.messages.values()),
        "device_updates": metrics.device_updates,
        "events_stored": metrics.events_stored,
        "batches": metrics.batches,
        "batch_seconds_max": metrics.batch_seconds_max,
        "batch_failures": metrics.batch_failures,
        "poison_skipped": metrics.poison_skipped,
        "sweeps": metrics.sweeps,
    }
    fields |= {name: gauge() for name, gauge in sorted(metrics.gauges.items())}
    return line_of(series("hub", {"hub": hub_id}), fields, ns(at))


async def write_hub_lines(
    metrics: "Metrics",
    hub_id: str,
    *,
    sink: TimeSeriesSink,
    now: Callable[[], datetime],
    every_s: float,
    stop: asyncio.Event,
) -> None:
    """Every ``every_s``, the hub's own numbers into the sink, until ``stop``."""
    while not stop.is_set():
        text = hub_line(metrics, hub_id, now())
        if text is not None:
            sink.add([text])
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(every_s):
                await stop.wait()
