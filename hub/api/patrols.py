"""Patrol plans over HTTP: each plan with how its rounds stand now, and the plans admins keep.

A plan out of the caller's sight answers 404, as if it did not exist; one they see but may not
change, 403. Every change is in the audit log.
"""

from datetime import date, datetime, timedelta
from typing import Any

from fastapi import APIRouter, HTTPException, Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from contract.messages import new_event_id
from hub.api.deps import PrincipalDep, Services, ServicesDep, SessionDep, scope_school
from hub.auth import audit
from hub.auth.principal import Principal
from hub.domain.patrol import DAY, Round, begun, current, tally, upcoming
from hub.patrols.models import PatrolPlanRow, PatrolRunRow
from hub.patrols.store import (
    PATROLLERS,
    PlanIn,
    district_mismatch,
    done_runs,
    may_edit,
    plan_dict,
    plans_visible,
    schedule_of,
    visible,
)

router = APIRouter(prefix="/patrols", tags=["video patrol"])


def visible_plan(session: Session, who: Principal, plan_id: str) -> PatrolPlanRow:
    """The plan, or 404 when it does not exist or is out of the caller's sight."""
    row = session.get(PatrolPlanRow, plan_id)
    if row is None or not visible(who, row):
        raise HTTPException(404, f"no patrol plan {plan_id!r}")
    return row


def _standing(row: PatrolPlanRow, svc: Services, done: list[Any], last: PatrolRunRow | None) -> dict[str, Any]:
    now = svc.now()
    schedule = schedule_of(row, svc.settings)
    midnight = datetime.combine(now.astimezone(schedule.zone).date(), datetime.min.time(), schedule.zone)
    today = tally(begun(schedule, done, midnight, midnight + DAY, now))
    found = current(schedule, done, now) if row.enabled else None
    return {
        **plan_dict(row),
        "timezone": schedule.zone.key,
        "current": None if found is None else {"at": found.at, "until": found.until, "state": found.state},
        "next_at": upcoming(schedule, now) if row.enabled else None,
        "today": {"owed": today.owed, "done": today.done, "missed": today.missed, "overdue": today.overdue},
        "last_run": None if last is None else {
            "id": last.id, "officer": last.officer_name or last.officer, "state": last.state,
            "started_at": last.started_at, "finished_at": last.finished_at, "problems": last.problems,
        },
    }  # fmt: skip


def _last_runs(session: Session, plan_ids: list[str]) -> dict[str, PatrolRunRow]:
    newest = (
        select(PatrolRunRow.plan_id, func.max(PatrolRunRow.started_at).label("at"))
        .where(PatrolRunRow.plan_id.in_(plan_ids))
        .group_by(PatrolRunRow.plan_id)
        .subquery()
    )
    query = select(PatrolRunRow).join(
        newest, (PatrolRunRow.plan_id == newest.c.plan_id) & (PatrolRunRow.started_at == newest.c.at)
    )
    return {row.plan_id: row for row in session.scalars(query)}


@router.get("/plans")
def list_plans(session: SessionDep, who: PrincipalDep, svc: ServicesDep) -> dict[str, Any]:
    """The plans the caller sees, each with its round now (due, overdue, done), the next one and today's tally."""
    rows = plans_visible(session, who)
    ids = [row.id for row in rows]
    done = done_runs(session, ids, svc.now() - 3 * DAY)
    last = _last_runs(session, ids) if ids else {}
    items = [_standing(row, svc, done[row.id], last.get(row.id)) for row in rows]
    return {"items": items, "total": len(items), "may_patrol": who.role in PATROLLERS or not who.authenticated}


def _check_cameras(body: PlanIn, svc: Services, who: Principal) -> None:
    for camera in body.cameras:
        device = svc.ingest.state.devices.get((camera.school_id, camera.device_id))
        if not who.scope.allows(camera.school_id) or device is None or device.kind != "camera":
            raise HTTPException(422, f"cameras: no camera {camera.device_id!r} in school {camera.school_id!r}")
    mismatch = district_mismatch(body, svc.settings)
    if mismatch:
        raise HTTPException(422, f"cameras: {mismatch}")


def _may_edit(who: Principal, scope: str) -> None:
    if not may_edit(who, scope):
        raise HTTPException(403, f"a {who.role} may not edit the patrol plans of {scope}")


def _save(row: PatrolPlanRow, body: PlanIn, who: Principal, now: datetime) -> None:
    """Write the plan; a new schedule, or switching it back on, owes rounds from now only."""
    schedule = (body.start, body.end, body.every_min)
    if row.owed_from is None or schedule != (row.start, row.end, row.every_min) or (body.enabled and not row.enabled):
        row.owed_from = now
    row.scope, row.name, row.start, row.end = body.scope, body.name, body.start, body.end
    row.cameras = [[c.school_id, c.device_id] for c in body.cameras]
    row.every_min, row.grace_min, row.enabled = body.every_min, body.grace_min, body.enabled
    row.updated_at, row.updated_by = now, who.name


def _audit(db: Session, svc: Services, who: Principal, action: str, row: PatrolPlanRow) -> None:
    school = scope_school(row.scope)
    audit.record(db, at=svc.now(), actor=who.name, action=action, target=f"patrol-plan/{row.id}", school_id=school,
                 client_ip=who.client_ip, name=row.name, cameras=len(row.cameras))  # fmt: skip


@router.post("/plans", status_code=201, responses={403: {}, 422: {"description": "the field and the reason"}})
def add_plan(body: PlanIn, svc: ServicesDep, who: PrincipalDep) -> dict[str, Any]:
    """A new plan: its cameras must be cameras the hub knows, in the plan's school or district."""
    _may_edit(who, body.scope)
    _check_cameras(body, svc, who)
    now = svc.now()
    with svc.sessions.begin() as db:
        row = PatrolPlanRow(id=new_event_id(), created_at=now, created_by=who.name)
        _save(row, body, who, now)
        db.add(row)
        _audit(db, svc, who, "patrol.plan.create", row)
        return plan_dict(row)


@router.put("/plans/{plan_id}", responses={403: {}, 404: {}, 422: {}})
def change_plan(plan_id: str, body: PlanIn, svc: ServicesDep, who: PrincipalDep) -> dict[str, Any]:
    """Change a plan; its runs so far keep the cameras they had."""
    _may_edit(who, body.scope)
    _check_cameras(body, svc, who)
    with svc.sessions.begin() as db:
        row = visible_plan(db, who, plan_id)
        _may_edit(who, row.scope)
        _save(row, body, who, svc.now())
        _audit(db, svc, who, "patrol.plan.update", row)
        return plan_dict(row)


@router.delete("/plans/{plan_id}", status_code=204, response_class=Response, responses={403: {}, 404: {}})
def delete_plan(plan_id: str, svc: ServicesDep, who: PrincipalDep) -> Response:
    """Forget a plan; the records of its runs stay."""
    with svc.sessions.begin() as db:
        row = visible_plan(db, who, plan_id)
        _may_edit(who, row.scope)
        _audit(db, svc, who, "patrol.plan.delete", row)
        db.delete(row)
    return Response(status_code=204)


def day_counts(row: PatrolPlanRow, svc: Services, done: list[Any], first: date, days: int) -> list[dict[str, Any]]:
    """A plan's rounds per local day from ``first``: owed, done, missed (a round counts on the day it begins)."""
    schedule = schedule_of(row, svc.settings)
    start = datetime.combine(first, datetime.min.time(), schedule.zone)
    end = datetime.combine(first + timedelta(days=days), datetime.min.time(), schedule.zone)
    by_day: dict[date, list[Round]] = {first + timedelta(days=n): [] for n in range(days)}
    for one in begun(schedule, done, start, end, svc.now()):
        by_day[one.at.astimezone(schedule.zone).date()].append(one)
    out = []
    for day, found in by_day.items():
        counted = tally(found)
        out.append({"day": day.isoformat(), "owed": counted.owed, "done": counted.done, "missed": counted.missed})
    return out
