"""Online video patrol (网上巡查): when a plan's rounds fall due, and which were done, overdue or missed.

Pure. A plan patrols between ``start`` and ``end`` on the wall clock of its time zone (a school's,
never UTC), one round every ``every``; a window whose end is not after its start runs overnight
(a boarding school's dorm rounds, 20:00 to 06:00), and ``00:00``-``00:00`` is the whole day.

A round is done by a run that began within it and was finished by its end plus ``grace``. It is
due from its start, overdue once ``grace`` has passed without one, and missed when it ends without
one. Rounds that ended before the
plan existed (or before its schedule last changed, or it was switched back on) are not owed:
nobody could have walked them to this schedule.
"""

import enum
from bisect import bisect_left
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

DAY = timedelta(days=1)


class RoundState(enum.StrEnum):
    """Where a round stands at a moment."""

    UPCOMING = "upcoming"
    DUE = "due"
    OVERDUE = "overdue"
    DONE = "done"
    MISSED = "missed"


@dataclass(frozen=True)
class Schedule:
    """When a plan's rounds fall due."""

    start: time
    end: time
    every: timedelta
    grace: timedelta
    since: datetime  # the plan's creation or last change of schedule: rounds that ended before are not owed
    zone: ZoneInfo

    def __post_init__(self) -> None:
        if self.every < timedelta(minutes=1):
            raise ValueError("a round lasts at least a minute")
        if self.since.tzinfo is None:
            raise ValueError("since must be timezone-aware")


@dataclass(frozen=True)
class Done:
    """A completed run: when its officer began and finished it."""

    run_id: str
    started_at: datetime
    finished_at: datetime


@dataclass(frozen=True)
class Round:
    """One round of a plan: from ``at`` until ``until`` (UTC), its state, and the run that did it."""

    at: datetime
    until: datetime
    state: RoundState
    run_id: str | None = None


def windows(schedule: Schedule, day: date) -> list[tuple[datetime, datetime]]:
    """The rounds of the window that opens on ``day`` (local), as UTC (start, end) pairs.

    Rounds step on the wall clock (a 4 h plan keeps 00:00, 04:00, 08:00 through a DST change); a
    round the clock change leaves empty is dropped.
    """
    opens = datetime.combine(day, schedule.start)
    closes = datetime.combine(day, schedule.end)
    if closes <= opens:  # overnight, or the whole day
        closes = datetime.combine(day + DAY, schedule.end)
    out = []
    at = opens
    while at < closes:
        until = min(at + schedule.every, closes)
        begin, end = _utc(at, schedule.zone), _utc(until, schedule.zone)
        if end > begin:
            out.append((begin, end))
        at = until
    return out


def _utc(wall: datetime, zone: ZoneInfo) -> datetime:
    return wall.replace(tzinfo=zone).astimezone(UTC)


def _state(schedule: Schedule, at: datetime, until: datetime, run: Done | None, now: datetime) -> RoundState:
    if run is not None:
        return RoundState.DONE
    if now < at:
        return RoundState.UPCOMING
    if now >= until:
        return RoundState.MISSED
    return RoundState.OVERDUE if now >= at + schedule.grace else RoundState.DUE


def rounds(schedule: Schedule, done: Iterable[Done], start: datetime, end: datetime, now: datetime) -> list[Round]:
    """The owed rounds that end after ``start`` and begin before ``end``, each with its state at ``now``.

    A completed run counts for the round it began in (one run, one round) if it was finished by the
    round's end plus ``grace``: a run begun in time and finished hours later did not patrol that
    round. Runs outside every round (a patrol out of hours) count for none.
    """
    runs = sorted(done, key=lambda d: d.started_at)
    starts = [r.started_at for r in runs]
    first = start.astimezone(schedule.zone).date() - DAY  # yesterday's overnight window reaches today
    last = end.astimezone(schedule.zone).date()
    out: list[Round] = []
    day = first
    while day <= last:
        for at, until in windows(schedule, day):
            if until <= start or at >= end or until <= schedule.since:
                continue
            run = _run_in(runs, starts, at, until, until + schedule.grace)
            out.append(Round(at, until, _state(schedule, at, until, run, now), run.run_id if run else None))
        day += DAY
    return out


def begun(schedule: Schedule, done: Iterable[Done], start: datetime, end: datetime, now: datetime) -> list[Round]:
    """The owed rounds that begin in [start, end): a day's rounds, an overnight one counted on its first day."""
    return [r for r in rounds(schedule, done, start, end, now) if r.at >= start]


def _run_in(runs: list[Done], starts: list[datetime], at: datetime, until: datetime, by: datetime) -> Done | None:
    """The first run begun in [at, until) and finished by ``by`` (runs sorted by start)."""
    for run in runs[bisect_left(starts, at) : bisect_left(starts, until)]:
        if run.finished_at <= by:
            return run
    return None


def current(schedule: Schedule, done: Iterable[Done], now: datetime) -> Round | None:
    """The round under way now (due, overdue or already done), or None outside the plan's hours."""
    return next((r for r in rounds(schedule, done, now, now + timedelta(microseconds=1), now)), None)


def upcoming(schedule: Schedule, now: datetime) -> datetime | None:
    """When the next round begins (within two days; None for a plan with no round in them)."""
    found = [r.at for r in rounds(schedule, (), now, now + 2 * DAY, now) if r.at > now]
    return min(found) if found else None


@dataclass(frozen=True)
class Tally:
    """A plan's rounds over a span: owed (begun by now), done, missed and overdue."""

    owed: int = 0
    done: int = 0
    missed: int = 0
    overdue: int = 0
    first_missed: datetime | None = None

    def __add__(self, other: "Tally") -> "Tally":
        firsts = [t for t in (self.first_missed, other.first_missed) if t is not None]
        return Tally(
            self.owed + other.owed, self.done + other.done, self.missed + other.missed,
            self.overdue + other.overdue, min(firsts) if firsts else None,
        )  # fmt: skip


def tally(found: Sequence[Round]) -> Tally:
    """Count rounds: upcoming ones are not owed yet."""
    owed = [r for r in found if r.state != RoundState.UPCOMING]
    missed = [r.at for r in owed if r.state == RoundState.MISSED]
    return Tally(
        owed=len(owed),
        done=sum(r.state == RoundState.DONE for r in owed),
        missed=len(missed),
        overdue=sum(r.state == RoundState.OVERDUE for r in owed),
        first_missed=min(missed) if missed else None,
    )
