"""Rates over many devices: the database adapter of ``hub.domain.rates``.

Loads, in two queries per chunk of devices, each device's state at the start of the range and its
transitions inside it, then tallies per device and local day (each school in its own time zone) and
sums the tallies per school. A school's 在线率 and 完好率 are then time over device-time: a camera
down two hours of a day weighs two device-hours, whichever school it is in.
"""

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, tuple_
from sqlalchemy.orm import Session

from hub.db.models import Device, Transition
from hub.domain.rates import DayTally, Tally, tally_by_day

CHUNK = 400  # (school, device) pairs per IN (...): 800 parameters, under SQLite's and PostgreSQL's limits
Key = tuple[str, str]


@dataclass
class SchoolTally:
    """One school over the range: its devices' tallies summed, per local day and in all."""

    school_id: str
    timezone: str
    devices: int = 0
    days: dict[str, Tally] = field(default_factory=dict)  # ISO day -> tally

    @property
    def whole(self) -> Tally:
        return sum(self.days.values(), Tally())


def _chunks(keys: list[Key]) -> Iterable[list[Key]]:
    for start in range(0, len(keys), CHUNK):
        yield keys[start : start + CHUNK]


def _states_at(session: Session, keys: list[Key], start: datetime) -> dict[Key, tuple[str, datetime]]:
    """Each device's availability at ``start`` and when it was entered: its last transition at or before it."""
    last = (
        select(func.max(Transition.id))
        .where(tuple_(Transition.school_id, Transition.device_id).in_(keys), Transition.at <= start)
        .group_by(Transition.school_id, Transition.device_id)
    )
    rows = session.execute(
        select(Transition.school_id, Transition.device_id, Transition.availability, Transition.at).where(
            Transition.id.in_(last)
        )
    )
    return {(s, str(d)): (a, at) for s, d, a, at in rows}


def _changes(
    session: Session, keys: list[Key], start: datetime, end: datetime
) -> dict[Key, list[tuple[datetime, str]]]:
    rows = session.execute(
        select(Transition.school_id, Transition.device_id, Transition.at, Transition.availability)
        .where(tuple_(Transition.school_id, Transition.device_id).in_(keys), Transition.at > start, Transition.at < end)
        .order_by(Transition.at, Transition.id)
    )
    out: dict[Key, list[tuple[datetime, str]]] = defaultdict(list)
    for school_id, device_id, at, availability in rows:
        out[(school_id, str(device_id))].append((at, availability))
    return out


def school_tallies(
    session: Session,
    schools: Iterable[str],
    start: datetime,
    end: datetime,
    *,
    tz_of: Callable[[str], ZoneInfo],
    kind: str | None = None,
) -> dict[str, SchoolTally]:
    """The tallies of every device (of ``kind``, if given) of these schools, summed per school and day."""
    wanted = sorted(set(schools))
    result = {s: SchoolTally(s, tz_of(s).key) for s in wanted}
    keys = devices_of(session, wanted, kind)
    for key, history in device_histories(session, keys, start, end):
        school = result[key[0]]
        school.devices += 1
        _add(school, tally_by_day(history.initial, history.changes, start, end, tz=tz_of(key[0])))
    return result


@dataclass(frozen=True, slots=True)
class History:
    """A device's availability over a range: its state at the start (and since when), and its changes."""

    initial: str
    initial_at: datetime | None
    changes: list[tuple[datetime, str]]


def device_facts(session: Session, schools: list[str], kind: str | None = None) -> dict[Key, tuple[str, str]]:
    """The devices of these schools (of ``kind`` if given), each with its kind and location; a chunk
    of schools per query (a city's 300,000 devices fit in memory: a few short strings each)."""
    found: dict[Key, tuple[str, str]] = {}
    for chunk_start in range(0, len(schools), CHUNK):
        query = select(Device.school_id, Device.id, Device.kind, Device.location).where(
            Device.school_id.in_(schools[chunk_start : chunk_start + CHUNK])
        )
        if kind is not None:
            query = query.where(Device.kind == kind)
        found |= {(s, d): (k, loc) for s, d, k, loc in session.execute(query)}
    return found


def devices_of(session: Session, schools: list[str], kind: str | None = None) -> list[Key]:
    """The (school, device) pairs of these schools, of ``kind`` if given, sorted."""
    return sorted(device_facts(session, schools, kind))


def device_histories(
    session: Session, keys: list[Key], start: datetime, end: datetime
) -> Iterator[tuple[Key, History]]:
    """Each device's history over [start, end), two queries per chunk of devices."""
    for chunk in _chunks(keys):
        initial = _states_at(session, chunk, start)
        changes = _changes(session, chunk, start, end)
        for key in chunk:
            state, since = initial.get(key, ("unknown", None))
            yield key, History(state, since, changes.get(key, []))


def _add(school: SchoolTally, days: list[DayTally]) -> None:
    for day in days:
        name = day.day.isoformat()
        school.days[name] = school.days.get(name, Tally()) + day.tally


def combined(schools: Iterable[SchoolTally]) -> Tally:
    """Several schools' tallies summed (a district's, a city's)."""
    return sum((s.whole for s in schools), Tally())
