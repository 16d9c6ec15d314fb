"""Rates over many devices: the database adapter of ``hub.domain.rates``.

Loads, in two queries per chunk of devices, each device's state at the start of the range and its
transitions inside it, then tallies per device and local day (each school in its own time zone) and
sums the tallies per school. A school's 在线率 and 完好率 are then time over device-time: a camera
down two hours of a day weighs two device-hours, whichever school it is in.
"""

from collections import defaultdict
from collections.abc import Callable, Iterable
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


def _states_at(session: Session, keys: list[Key], start: datetime) -> dict[Key, str]:
    """Each device's availability at ``start``: its last transition at or before it."""
    last = (
        select(func.max(Transition.id))
        .where(tuple_(Transition.school_id, Transition.device_id).in_(keys), Transition.at <= start)
        .group_by(Transition.school_id, Transition.device_id)
    )
    rows = session.execute(
        select(Transition.school_id, Transition.device_id, Transition.availability).where(Transition.id.in_(last))
    )
    return {(s, str(d)): a for s, d, a in rows}


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
    keys: list[Key] = []
    for chunk_start in range(0, len(wanted), CHUNK):
        query = select(Device.school_id, Device.id).where(
            Device.school_id.in_(wanted[chunk_start : chunk_start + CHUNK])
        )
        if kind is not None:
            query = query.where(Device.kind == kind)
        keys += [(s, d) for s, d in session.execute(query)]
    for chunk in _chunks(sorted(keys)):
        initial = _states_at(session, chunk, start)
        changes = _changes(session, chunk, start, end)
        for key in chunk:
            school = result[key[0]]
            school.devices += 1
            days = tally_by_day(initial.get(key, "unknown"), changes.get(key, []), start, end, tz=tz_of(key[0]))
            _add(school, days)
    return result


def _add(school: SchoolTally, days: list[DayTally]) -> None:
    for day in days:
        name = day.day.isoformat()
        school.days[name] = school.days.get(name, Tally()) + day.tally


def combined(schools: Iterable[SchoolTally]) -> Tally:
    """Several schools' tallies summed (a district's, a city's)."""
    return sum((s.whole for s in schools), Tally())
