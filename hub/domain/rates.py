"""Time-weighted 在线率 (online rate) and 完好率 (intact rate) from availability transitions.

Pure: transitions and a time zone in, tallies out. Days are cut at midnight in the school's time
zone (default Asia/Shanghai), never in UTC: a Chinese school's day is 00:00 to 24:00 Beijing time,
which is 16:00 to 16:00 UTC.

- 在线 (online): ``online`` or ``degraded``. The device answers.
- 完好 (intact): ``online`` only. A degraded device answers but is not working as it should: a
  camera whose image is covered, frozen, black or moved, a controller that answers only in part.
- ``offline`` counts as down, whatever the cause: a device shown offline because its gateway is
  (reason ``gateway_offline``) is down for the school too.
- ``unknown`` (never heard from, or the hub was not running) is neither up nor down. It is
  reported as such (``unknown_s``, ``coverage``), and the rates are taken over the known time; a
  period with no known time has no rate (``None``), never 100 %.
- Maintenance windows the school declared are counted apart (``maintenance_s``) and left out of the
  rates, whatever the device did meanwhile.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

UP = frozenset({"online", "degraded"})
INTACT = frozenset({"online"})
STATES = ("online", "degraded", "offline", "unknown")
DEFAULT_TZ = "Asia/Shanghai"


@dataclass(frozen=True, slots=True)
class Tally:
    """Seconds in each availability over some period, and the rates they give."""

    online_s: float = 0.0
    degraded_s: float = 0.0
    offline_s: float = 0.0
    unknown_s: float = 0.0
    maintenance_s: float = 0.0

    @property
    def expected_s(self) -> float:
        """The whole period, maintenance included."""
        return self.online_s + self.degraded_s + self.offline_s + self.unknown_s + self.maintenance_s

    @property
    def known_s(self) -> float:
        """Time whose state the hub knows, outside maintenance: what the rates are taken over."""
        return self.online_s + self.degraded_s + self.offline_s

    @property
    def online_rate(self) -> float | None:
        """在线率: time online (degraded included) over known time; None when nothing is known."""
        return (self.online_s + self.degraded_s) / self.known_s if self.known_s > 0 else None

    @property
    def intact_rate(self) -> float | None:
        """完好率: time online and working (not degraded) over known time; None when nothing is known."""
        return self.online_s / self.known_s if self.known_s > 0 else None

    @property
    def coverage(self) -> float | None:
        """Known time over the time outside maintenance: how far the rates can be trusted."""
        judged = self.known_s + self.unknown_s
        return self.known_s / judged if judged > 0 else None

    def __add__(self, other: "Tally") -> "Tally":
        return Tally(
            self.online_s + other.online_s,
            self.degraded_s + other.degraded_s,
            self.offline_s + other.offline_s,
            self.unknown_s + other.unknown_s,
            self.maintenance_s + other.maintenance_s,
        )


@dataclass(frozen=True, slots=True)
class DayTally:
    """One local day (clipped to the asked range)."""

    day: date
    start: datetime
    end: datetime
    tally: Tally


def local_days(start: datetime, end: datetime, tz: ZoneInfo) -> list[tuple[date, datetime, datetime]]:
    """The local days that meet [start, end): (day, its start, its end), clipped to the range."""
    if start >= end:
        return []
    days = []
    day = start.astimezone(tz).date()
    while True:
        begin = _midnight(day, tz)
        nxt = _midnight(day + timedelta(days=1), tz)
        if begin >= end:
            break
        days.append((day, max(begin, start), min(nxt, end)))
        day += timedelta(days=1)
    return days


def _midnight(day: date, tz: ZoneInfo) -> datetime:
    """The day's start, in UTC: two times with the same zone subtract as wall clock times in Python,
    which makes a daylight-saving day 24 h long."""
    return datetime(day.year, day.month, day.day, tzinfo=tz).astimezone(UTC)


def _overlap(a0: datetime, a1: datetime, b0: datetime, b1: datetime) -> float:
    return max(0.0, (min(a1, b1) - max(a0, b0)).total_seconds())


def _merge(windows: Iterable[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    merged: list[tuple[datetime, datetime]] = []
    for begin, finish in sorted(w for w in windows if w[0] < w[1]):
        if merged and begin <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], finish))
        else:
            merged.append((begin, finish))
    return merged


def tally(
    initial: str,
    transitions: Sequence[tuple[datetime, str]],
    start: datetime,
    end: datetime,
    *,
    maintenance: Iterable[tuple[datetime, datetime]] = (),
) -> Tally:
    """Seconds per state over [start, end). ``initial`` is the state at ``start``; ``transitions``
    are (time, new state) sorted by time; an unrecognised state counts as unknown."""
    seconds = dict.fromkeys(STATES, 0.0)
    windows = _merge(maintenance)
    in_maintenance = 0.0
    state, at = initial, start
    for t, s in transitions:  # a change at ``start`` itself is the state at the start
        if t <= start:
            state = s
    for next_at, next_state in [*((t, s) for t, s in transitions if start < t < end), (end, initial)]:
        span = (next_at - at).total_seconds()
        held = sum(_overlap(at, next_at, w0, w1) for w0, w1 in windows)
        seconds[state if state in seconds else "unknown"] += span - held
        in_maintenance += held
        state, at = next_state, next_at
    return Tally(seconds["online"], seconds["degraded"], seconds["offline"], seconds["unknown"], in_maintenance)


def tally_by_day(
    initial: str,
    transitions: Sequence[tuple[datetime, str]],
    start: datetime,
    end: datetime,
    *,
    tz: ZoneInfo,
    maintenance: Iterable[tuple[datetime, datetime]] = (),
) -> list[DayTally]:
    """One tally per local day of [start, end)."""
    windows = _merge(maintenance)
    ordered = [(t, s) for t, s in transitions if start < t < end]
    result, state, i = [], initial, 0
    for day, begin, finish in local_days(start, end, tz):
        while i < len(ordered) and ordered[i][0] <= begin:  # a change at midnight starts the day
            state, i = ordered[i][1], i + 1
        first = i
        while i < len(ordered) and ordered[i][0] < finish:
            i += 1
        inside = ordered[first:i]
        result.append(DayTally(day, begin, finish, tally(state, inside, begin, finish, maintenance=windows)))
        if inside:
            state = inside[-1][1]  # the state at the next day's start
    return result


def total(days: Iterable[DayTally]) -> Tally:
    """The sum of several days' tallies."""
    result = Tally()
    for day in days:
        result = result + day.tally
    return result
