"""Outages and repair times from availability transitions.

Pure. An outage starts when a device goes ``offline`` and ends when it is next seen ``online`` or
``degraded`` (it answers again). ``unknown`` inside an outage (the hub was down) does not end it:
nobody saw the device back. The repair deadline is 24 h: GB/T 29315-2012 "系统出现故障时，应在24h内
恢复功能" (research/compliance-rules.md CON-03).
"""

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from hub.domain.rates import UP

REPAIR_DEADLINE = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class Outage:
    """One spell offline: from ``start`` until ``end`` (None: still down when the period ended)."""

    start: datetime
    end: datetime | None

    def duration(self, until: datetime) -> timedelta:
        """How long it lasted, or has lasted by ``until`` if it has not ended."""
        return (self.end or until) - self.start

    def overdue(self, until: datetime, deadline: timedelta = REPAIR_DEADLINE) -> bool:
        return self.duration(until) > deadline


def outages(
    initial: str,
    initial_at: datetime | None,
    transitions: Sequence[tuple[datetime, str]],
    start: datetime,
    end: datetime,
) -> list[Outage]:
    """The outages that meet [start, end). ``initial`` is the state at ``start``, entered at
    ``initial_at``; ``transitions`` are (time, new state) sorted by time."""
    found: list[Outage] = []
    down_since = (initial_at or start) if initial == "offline" else None
    for at, state in transitions:
        if not start < at < end:
            continue
        if state == "offline" and down_since is None:
            down_since = at
        elif state in UP and down_since is not None:
            found.append(Outage(down_since, at))
            down_since = None
    if down_since is not None:
        found.append(Outage(down_since, None))
    return found


@dataclass(frozen=True, slots=True)
class RepairSummary:
    """Outages that began in a period, against the repair deadline."""

    began: int
    repaired_in_time: int
    overdue: int  # repaired late, or still down past the deadline
    still_down: int
    median_h: float | None  # of the repaired ones
    p90_h: float | None

    @classmethod
    def of(cls, spells: Sequence[Outage], start: datetime, until: datetime) -> "RepairSummary":
        began = [o for o in spells if o.start >= start]
        repaired = sorted(o.duration(until).total_seconds() / 3600 for o in began if o.end is not None)
        return cls(
            began=len(began),
            repaired_in_time=sum(1 for o in began if o.end is not None and not o.overdue(until)),
            overdue=sum(1 for o in began if o.overdue(until)),
            still_down=sum(1 for o in began if o.end is None),
            median_h=statistics.median(repaired) if repaired else None,
            p90_h=percentile(repaired, 0.9),
        )


def percentile(ordered: Sequence[float], q: float) -> float | None:
    """The nearest-rank percentile of sorted values; None for none."""
    if not ordered:
        return None
    return ordered[max(1, math.ceil(len(ordered) * q)) - 1]
