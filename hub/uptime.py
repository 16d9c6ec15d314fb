"""Time-weighted uptime from timestamped availability transitions, per UTC day."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta

UP = frozenset({"online", "degraded"})
STATES = ("online", "degraded", "offline", "unknown")


@dataclass(frozen=True)
class DayUptime:
    """Seconds spent in each availability during one UTC day (clipped to the asked range)."""

    day: str
    seconds: dict[str, float]

    @property
    def ratio(self) -> float | None:
        """Up time over known time; None when the state was never known that day."""
        known = sum(v for k, v in self.seconds.items() if k != "unknown")
        if known <= 0:
            return None
        return sum(self.seconds[s] for s in UP) / known


def _day_start(at: datetime) -> datetime:
    return datetime.combine(at.date(), time(0), tzinfo=at.tzinfo)


def uptime_by_day(
    initial: str, transitions: Sequence[tuple[datetime, str]], start: datetime, end: datetime
) -> list[DayUptime]:
    """Split [start, end) into UTC days; ``initial`` is the state at ``start``; transitions sorted by time."""
    days: dict[str, dict[str, float]] = {}
    cursor = _day_start(start)
    while cursor < end:
        days[cursor.date().isoformat()] = dict.fromkeys(STATES, 0.0)
        cursor += timedelta(days=1)
    points = [(at, state) for at, state in transitions if start < at < end]
    state, at = initial, start
    for next_at, next_state in [*points, (end, initial)]:
        _add(days, state, at, next_at)
        state, at = next_state, next_at
    return [DayUptime(day, seconds) for day, seconds in days.items()]


def _add(days: dict[str, dict[str, float]], state: str, begin: datetime, end: datetime) -> None:
    key = state if state in STATES else "unknown"
    while begin < end:
        boundary = min(_day_start(begin) + timedelta(days=1), end)
        days[begin.date().isoformat()][key] += (boundary - begin).total_seconds()
        begin = boundary
