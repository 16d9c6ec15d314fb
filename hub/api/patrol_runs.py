"""Walking a patrol over HTTP: start a run, mark each camera normal or report a problem, finish it;
and the records: who patrolled what and when, and each plan's rounds per day for the rules.

A problem opens a ``patrol_problem`` alarm on the camera for IT staff (one per camera while open),
with a picture the hub takes from the camera at once (``hub.alarm_pictures``).
"""

import threading
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query
from fastapi.concurrency import run_in_threadpool
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from contract.messages import new_event_id
from hub import ledger, live
from hub.api.deps import PrincipalDep, Services, ServicesDep, SessionDep, scope_school
from hub.api.patrols import day_counts, visible_plan
from hub.auth import audit
from hub.auth.principal import Principal
from hub.db.models import Alarm
from hub.domain.alarms import HubKind
from hub.patrols.models import PatrolCheckRow, PatrolPlanRow, PatrolRunRow
from hub.patrols.store import PATROLLERS, camera_list, done_runs, plans_visible, runs_clause, safe_note, visible
from hub.sinks import Committed
from hub.store import alarm_dict

router = APIRouter(prefix="/patrols", tags=["video patrol"])
MAX_DAYS = 92
RESUMABLE = timedelta(hours=2)  # a run begun longer ago is not resumed: a new round needs a new run
EARLIEST = date(2000, 1, 1)  # no patrol record is older; and year 1 would overflow a round's arithmetic
PROBLEMS = threading.Lock()  # one open problem alarm per camera: reports of one camera take turns


class CheckIn(BaseModel):
    """What the officer saw on one camera."""

    model_config = ConfigDict(extra="forbid")
    school_id: str = Field(max_length=64)
    device_id: str = Field(max_length=64)
    result: Literal["normal", "problem"]
    note: str = Field(default="", max_length=500, description="required for a problem: what is wrong")


def _run_dict(run: PatrolRunRow, checks: list[PatrolCheckRow]) -> dict[str, Any]:
    return {
        "id": run.id, "plan_id": run.plan_id, "plan_name": run.plan_name, "scope": run.scope,
        "cameras": camera_list(run), "officer": run.officer, "officer_name": run.officer_name or run.officer,
        "state": run.state, "started_at": run.started_at, "finished_at": run.finished_at, "problems": run.problems,
        "checks": [
            {"school_id": c.school_id, "device_id": c.device_id, "result": c.result, "note": c.note,
             "checked_at": c.checked_at, "alarm_id": c.alarm_id}
            for c in checks
        ],
    }  # fmt: skip


def _checks(session: Session, run_ids: list[str]) -> dict[str, list[PatrolCheckRow]]:
    out: dict[str, list[PatrolCheckRow]] = {run: [] for run in run_ids}
    if run_ids:
        for row in session.scalars(select(PatrolCheckRow).where(PatrolCheckRow.run_id.in_(run_ids))):
            out[row.run_id].append(row)
    return out


def _visible_run(session: Session, who: Principal, run_id: str) -> PatrolRunRow:
    run = session.get(PatrolRunRow, run_id, with_for_update=True)
    if run is None or not visible(who, run):
        raise HTTPException(404, f"no patrol run {run_id!r}")
    return run


def _own_open_run(session: Session, who: Principal, run_id: str) -> PatrolRunRow:
    run = _visible_run(session, who, run_id)
    if run.officer != who.name:
        raise HTTPException(403, f"this round is {run.officer_name or run.officer}'s; start your own")
    if run.state != "in_progress":
        raise HTTPException(409, f"patrol run {run_id} is {run.state}")
    return run


def _audit(db: Session, who: Principal, at: datetime, action: str, run: PatrolRunRow, **detail: Any) -> None:
    school = scope_school(run.scope)
    audit.record(db, at=at, actor=who.name, action=action, target=f"patrol-run/{run.id}", school_id=school,
                 client_ip=who.client_ip, plan=run.plan_name, **detail)  # fmt: skip


@router.post("/plans/{plan_id}/runs", status_code=201, responses={403: {}, 404: {}, 409: {}})
def start_run(plan_id: str, svc: ServicesDep, who: PrincipalDep) -> dict[str, Any]:
    """Begin a round of the plan now: it counts for the round it begins in once finished."""
    if who.authenticated and who.role not in PATROLLERS:
        raise HTTPException(403, f"a {who.role} does not patrol")
    now = svc.now()
    with svc.sessions.begin() as db:
        plan = visible_plan(db, who, plan_id)
        if not plan.enabled:
            raise HTTPException(409, f"patrol plan {plan.name!r} is switched off")
        mine = db.scalars(
            select(PatrolRunRow).where(
                PatrolRunRow.plan_id == plan.id, PatrolRunRow.officer == who.name, PatrolRunRow.state == "in_progress",
                PatrolRunRow.started_at >= now - RESUMABLE,
            )
        ).first()  # fmt: skip
        if mine is not None:  # a reload, a second click: the round under way goes on
            return _run_dict(mine, _checks(db, [mine.id])[mine.id])
        run = PatrolRunRow(
            id=new_event_id(), plan_id=plan.id, scope=plan.scope, plan_name=plan.name, cameras=plan.cameras,
            officer=who.name, officer_name=who.display_name, state="in_progress", started_at=now, problems=0,
        )  # fmt: skip
        db.add(run)
        _audit(db, who, now, "patrol.start", run)
        return _run_dict(run, [])


def _problem_alarm(
    db: Session, svc: Services, run: PatrolRunRow, body: CheckIn, now: datetime
) -> tuple[Alarm | None, bool]:
    """The camera's open patrol_problem alarm, and whether it is new (else the one still open from before)."""
    device = svc.ingest.state.devices.get((body.school_id, body.device_id))
    gateway = device.gateway_id if device else "hub"
    alarm = ledger.apply_condition(
        db, school_id=body.school_id, gateway_id=gateway, device_id=body.device_id,
        kind=str(HubKind.PATROL_PROBLEM), active=True, at=now,
    )  # fmt: skip
    if alarm is not None:
        alarm.value = f"{run.officer_name or run.officer}: {safe_note(body.note)}"  # what the officer saw
        return alarm, True
    return ledger.open_alarm(db, body.school_id, body.device_id, str(HubKind.PATROL_PROBLEM), None), False


def _write_check(svc: Services, who: Principal, run_id: str, body: CheckIn) -> tuple[dict[str, Any], Committed | None]:
    # Checks take turns in this hub: a double click must not insert one camera's check twice, nor two
    # officers open two problem alarms for one camera. A check that still meets another's insert
    # (another hub) is written again as an update.
    with PROBLEMS:
        try:
            return _check_once(svc, who, run_id, body)
        except IntegrityError:
            return _check_once(svc, who, run_id, body)


def _check_once(svc: Services, who: Principal, run_id: str, body: CheckIn) -> tuple[dict[str, Any], Committed | None]:
    now = svc.now()
    with svc.sessions.begin() as db:
        run = _own_open_run(db, who, run_id)
        if [body.school_id, body.device_id] not in run.cameras:
            raise HTTPException(422, f"device_id: {body.device_id!r} of {body.school_id!r} is not in this round")
        if body.result == "problem" and not body.note.strip():
            raise HTTPException(422, "note: say what is wrong")
        row = db.get(PatrolCheckRow, (run.id, body.school_id, body.device_id))
        if row is None:
            row = PatrolCheckRow(run_id=run.id, school_id=body.school_id, device_id=body.device_id)
            db.add(row)
        row.result, row.note, row.checked_at = body.result, safe_note(body.note), now
        commit = None
        if body.result == "problem" and row.alarm_id is None:
            alarm, new = _problem_alarm(db, svc, run, body, now)
            if alarm is not None:
                db.flush()
                row.alarm_id = alarm.id
            if alarm is not None and new:
                data = alarm_dict(alarm)
                forwarded = svc.forwarder.outbox.enqueue(db, [data], now)  # a route may take IT alarms
                commit = Committed(now, tuple(live.record(db, [("alarm", data)], now)), (data,), forwarded)
            _audit(db, who, now, "patrol.problem", run, camera=body.device_id, note=row.note)
        db.flush()
        return {"school_id": row.school_id, "device_id": row.device_id, "result": row.result, "note": row.note,
                "checked_at": row.checked_at, "alarm_id": row.alarm_id}, commit  # fmt: skip


@router.post("/runs/{run_id}/checks", responses={403: {}, 404: {}, 409: {}, 422: {}})
async def check_camera(run_id: str, body: CheckIn, svc: ServicesDep, who: PrincipalDep) -> dict[str, Any]:
    """Mark a camera of the round normal, or report a problem (which opens an IT alarm with its picture)."""
    out, commit = await run_in_threadpool(_write_check, svc, who, run_id, body)
    if commit is not None:
        svc.ingest.announce(commit)
        if commit.forwarded:
            svc.forwarder.wake_all()
    return out


@router.post("/runs/{run_id}/finish", responses={403: {}, 404: {}, 409: {"description": "cameras not checked"}})
def finish_run(run_id: str, svc: ServicesDep, who: PrincipalDep) -> dict[str, Any]:
    """Close the round: every camera must have been checked."""
    now = svc.now()
    with svc.sessions.begin() as db:
        run = _own_open_run(db, who, run_id)
        checks = _checks(db, [run.id])[run.id]
        done = {(c.school_id, c.device_id) for c in checks}
        left = [f"{s}/{d}" for s, d in run.cameras if (s, d) not in done]
        if left:
            raise HTTPException(409, f"not checked yet: {', '.join(left)}")
        run.state, run.finished_at = "completed", now
        run.problems = sum(c.result == "problem" for c in checks)
        _audit(db, who, now, "patrol.complete", run, problems=run.problems)
        return _run_dict(run, checks)


@router.get("/runs")
def list_runs(
    session: SessionDep,
    who: PrincipalDep,
    plan_id: str | None = None,
    since: AwareDatetime | None = None,
    limit: int = Query(100, ge=1, le=1000),
) -> dict[str, Any]:
    """The records: runs the caller may see, newest first, with each camera's check."""
    query = select(PatrolRunRow).where(runs_clause(who)).order_by(PatrolRunRow.started_at.desc())
    if plan_id is not None:
        query = query.where(PatrolRunRow.plan_id == plan_id)
    if since is not None:
        query = query.where(PatrolRunRow.started_at >= since)
    runs: list[PatrolRunRow] = []
    for run in session.scalars(query.execution_options(yield_per=500)):
        if visible(who, run):
            runs.append(run)
            if len(runs) == limit:
                break
    checks = _checks(session, [r.id for r in runs])
    return {"items": [_run_dict(r, checks[r.id]) for r in runs], "total": len(runs)}


@router.get("/runs/{run_id}", responses={404: {}})
def get_run(run_id: str, session: SessionDep, who: PrincipalDep) -> dict[str, Any]:
    """One run and its checks."""
    run = session.get(PatrolRunRow, run_id)
    if run is None or not visible(who, run):
        raise HTTPException(404, f"no patrol run {run_id!r}")
    return _run_dict(run, _checks(session, [run.id])[run.id])


@router.get("/counts", responses={422: {"description": "a span of more than 92 days, or dates out of range"}})
def counts(
    session: SessionDep,
    who: PrincipalDep,
    svc: ServicesDep,
    first: Annotated[date, Query(alias="from")],
    last: Annotated[date, Query(alias="to")],
) -> dict[str, Any]:
    """Each visible plan's rounds per local day, ``from`` to ``to`` inclusive: owed, done, missed."""
    days = (last - first).days + 1
    latest = svc.now().date() + timedelta(days=366)
    if first < EARLIEST or last > latest:
        raise HTTPException(422, f"from, to: days from {EARLIEST} to {latest} only")
    if not 1 <= days <= MAX_DAYS:
        raise HTTPException(422, f"to: from {first} to {last} is not 1 to {MAX_DAYS} days")
    plans: list[PatrolPlanRow] = plans_visible(session, who)
    since = datetime.combine(first - timedelta(days=2), time(), UTC)  # an overnight round from the day before
    done = done_runs(session, [p.id for p in plans], since, datetime.combine(last + timedelta(days=2), time(), UTC))
    items = []
    for plan in plans:
        for entry in day_counts(plan, svc, done[plan.id], first, days):
            items.append({"plan_id": plan.id, "plan_name": plan.name, "scope": plan.scope, **entry})
    return {"items": items, "total": len(items)}
