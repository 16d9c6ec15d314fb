"""Patrol plans and runs in the database: what a plan is, who sees it, and how its rounds stand.

A plan belongs to a school (``school:ID``: its admins keep it, its guards walk it) or to a district
(``district:ID``: the district's duty officers patrol key cameras across its schools). A caller sees
a school's plan when the school is in their scope, and a district's only with a district account
for it: a guard never sees another school's patrols or cameras.
"""

import re
from collections.abc import Iterable
from datetime import datetime, time, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import ColumnElement, false, select, true
from sqlalchemy.orm import Session

from hub.auth.principal import Principal
from hub.domain.patrol import Done, Schedule
from hub.patrols.models import PatrolPlanRow, PatrolRunRow
from hub.settings import HubSettings

SCOPE = r"^(district|school):[A-Za-z0-9_.-]{1,64}$"
CLOCK = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"
ID = r"^[A-Za-z0-9_.-]{1,64}$"
PATROLLERS = frozenset({"guard", "it_staff", "school_admin", "district_admin"})


class CameraRef(BaseModel):
    """One camera of a plan."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    school_id: Annotated[str, Field(pattern=ID)]
    device_id: Annotated[str, Field(pattern=ID)]


class PlanIn(BaseModel):
    """A plan as an admin writes it."""

    model_config = ConfigDict(extra="forbid")
    scope: Annotated[str, Field(pattern=SCOPE, description="school:ID or district:ID")]
    name: str = Field(min_length=1, max_length=80)
    cameras: list[CameraRef] = Field(min_length=1, max_length=64, description="in patrol order")
    start: Annotated[str, Field(pattern=CLOCK, description="HH:MM local; end <= start runs overnight")] = "00:00"
    end: Annotated[str, Field(pattern=CLOCK)] = "00:00"
    every_min: int = Field(default=240, ge=5, le=1440, description="one round every so many minutes")
    grace_min: int = Field(default=30, ge=0, le=1440, description="a round not done after this is overdue")
    enabled: bool = True

    @model_validator(mode="after")
    def _coherent(self) -> "PlanIn":
        if self.grace_min > self.every_min:
            raise ValueError("grace_min cannot exceed every_min: a round would end before it is overdue")
        seen = {(c.school_id, c.device_id) for c in self.cameras}
        if len(seen) != len(self.cameras):
            raise ValueError("a camera is listed twice")
        kind, _, target = self.scope.partition(":")
        if kind == "school" and any(c.school_id != target for c in self.cameras):
            raise ValueError(f"a plan of school {target} patrols only its cameras")
        return self


def schools_of(row: PatrolPlanRow | PatrolRunRow) -> set[str]:
    """The schools whose cameras the plan (or run) looks at."""
    return {str(c[0]) for c in row.cameras}


def visible(who: Principal, row: PatrolPlanRow | PatrolRunRow) -> bool:
    """Whether the caller may see this plan or run (and so its cameras)."""
    kind, _, target = row.scope.partition(":")
    cameras = all(who.scope.allows(s) for s in schools_of(row))  # a school moved to another district
    if kind == "district":
        return (not who.authenticated or who.district in ("*", target)) and cameras
    return who.scope.allows(target) and cameras


def may_edit(who: Principal, scope: str) -> bool:
    """A school's plans are its admins' (and its district's); a district's, its district admin's."""
    kind, _, target = scope.partition(":")
    if not who.authenticated:
        return True
    if who.role == "district_admin" and kind == "district":
        return who.district in ("*", target)
    return who.role in ("school_admin", "district_admin") and kind == "school" and who.scope.allows(target)


def district_mismatch(plan: PlanIn, settings: HubSettings) -> str | None:
    """Why a district plan's cameras do not belong to it (None: they do)."""
    kind, _, target = plan.scope.partition(":")
    if kind != "district":
        return None
    districts = {s.id: s.district for s in settings.schools}
    stray = sorted({c.school_id for c in plan.cameras if districts.get(c.school_id) != target})
    return f"schools {', '.join(stray)} are not in district {target}" if stray else None


def zone_of(scope: str, settings: HubSettings) -> ZoneInfo:
    """A school plan keeps its school's hours; a district plan, the hub's."""
    kind, _, target = scope.partition(":")
    return settings.school_tz(target) if kind == "school" else ZoneInfo(settings.timezone)


def _clock(text: str) -> time:
    hours, minutes = (int(x) for x in text.split(":"))
    return time(hours, minutes)


def schedule_of(row: PatrolPlanRow, settings: HubSettings) -> Schedule:
    """When the plan's rounds fall due."""
    return Schedule(
        start=_clock(row.start), end=_clock(row.end), every=timedelta(minutes=row.every_min),
        grace=timedelta(minutes=row.grace_min), since=row.owed_from, zone=zone_of(row.scope, settings),
    )  # fmt: skip


def plans_visible(session: Session, who: Principal) -> list[PatrolPlanRow]:
    """The plans the caller may see, by name."""
    rows = session.scalars(select(PatrolPlanRow).order_by(PatrolPlanRow.name, PatrolPlanRow.id))
    return [row for row in rows if visible(who, row)]


def done_runs(
    session: Session, plan_ids: Iterable[str], since: datetime, until: datetime | None = None
) -> dict[str, list[Done]]:
    """Each plan's completed runs begun from ``since`` (and before ``until``)."""
    ids = list(plan_ids)
    out: dict[str, list[Done]] = {plan: [] for plan in ids}
    for start in range(0, len(ids), 500):
        query = select(PatrolRunRow.plan_id, PatrolRunRow.id, PatrolRunRow.started_at, PatrolRunRow.finished_at).where(
            PatrolRunRow.plan_id.in_(ids[start : start + 500]),
            PatrolRunRow.state == "completed",
            PatrolRunRow.started_at >= since,
        )
        if until is not None:
            query = query.where(PatrolRunRow.started_at < until)
        for plan, run, started, finished in session.execute(query):
            out[plan].append(Done(run, started, finished or started))
    return out


def runs_clause(who: Principal) -> ColumnElement[bool]:
    """A WHERE clause narrowing runs to the scopes the caller may see (``visible`` decides the rest)."""
    if who.scope.schools is None and (not who.authenticated or who.district == "*"):
        return true()
    scopes = [f"school:{s}" for s in sorted(who.scope.schools or ())]
    if who.district and who.district != "*":
        scopes.append(f"district:{who.district}")
    return PatrolRunRow.scope.in_(scopes) if scopes else false()


def camera_list(row: PatrolPlanRow | PatrolRunRow) -> list[dict[str, str]]:
    """The cameras as the API gives them."""
    return [{"school_id": str(s), "device_id": str(d)} for s, d in row.cameras]


def safe_note(note: str) -> str:
    """A note as kept: control characters out, at most 500 characters."""
    return re.sub(r"[\x00-\x08\x0b-\x1f\x7f]", "", note)[:500]


def plan_dict(row: PatrolPlanRow) -> dict[str, Any]:
    """A plan's own fields, as the API gives them."""
    return {
        "id": row.id, "scope": row.scope, "name": row.name, "cameras": camera_list(row), "start": row.start,
        "end": row.end, "every_min": row.every_min, "grace_min": row.grace_min, "enabled": row.enabled,
        "updated_at": row.updated_at, "updated_by": row.updated_by,
    }  # fmt: skip
