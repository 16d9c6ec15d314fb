"""Response plans (处置预案) over HTTP: the plan for an alarm, and the plans admins save per scope."""

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Response
from pydantic import BaseModel, Field
from sqlalchemy import select

from hub.api.deps import PrincipalDep, ServicesDep, SessionDep, scope_school, visible_alarm
from hub.auth import audit
from hub.auth.principal import Principal
from hub.plans.store import SCOPE, Plan, PlanRow, plan_for

router = APIRouter(tags=["response plans"])
KIND = r"^[a-z][a-z0-9_]{0,47}$"


class PlanOut(BaseModel):
    """A plan, the scope it comes from (``default``: the bundled one) and the kind it is for."""

    kind: str
    scope: str
    steps: list[str]
    contacts: list[dict[str, str]]


def _out(kind: str, plan: Plan, scope: str) -> PlanOut:
    return PlanOut(kind=kind, scope=scope, steps=plan.steps, contacts=[c.model_dump() for c in plan.contacts])


@router.get("/alarms/{alarm_id}/plan", responses={404: {"description": "no alarm, or no plan for its kind"}})
def alarm_plan(alarm_id: str, svc: ServicesDep, who: PrincipalDep, session: SessionDep) -> PlanOut:
    """What to do for this alarm: its school's plan for its kind, else its district's, the hub's, the default."""
    alarm = visible_alarm(session, who, alarm_id)
    district = next((s.district for s in svc.settings.schools if s.id == alarm.school_id), None)
    found = plan_for(session, alarm.kind, alarm.school_id, district)
    if found is None:
        raise HTTPException(404, f"no response plan for {alarm.kind!r}")
    return _out(alarm.kind, *found)


def _may_edit(who: Principal, scope: str) -> None:
    """The hub-wide plans are a city-level admin's; a district's, its district admin's; a school's, also
    its school admin's."""
    kind, _, target = scope.partition(":")
    if who.role == "district_admin" and who.district in ("*", target if kind == "district" else "*"):
        return
    if who.role in ("district_admin", "school_admin") and kind == "school" and who.scope.allows(target):
        return
    raise HTTPException(403, f"a {who.role} may not edit the plans of {scope}")


ScopePath = Annotated[str, Path(pattern=SCOPE, description="*, district:ID or school:ID")]
KindPath = Annotated[str, Path(pattern=KIND)]


@router.put("/response-plans/{scope}/{kind}")
def put_plan(scope: ScopePath, kind: KindPath, body: Plan, svc: ServicesDep, who: PrincipalDep) -> PlanOut:
    """Save the plan for alarms of ``kind`` at ``scope``; it replaces the one below it whole."""
    _may_edit(who, scope)
    with svc.sessions.begin() as db:
        row = db.get(PlanRow, (scope, kind))
        action = "plan.update" if row else "plan.create"
        if row is None:
            row = PlanRow(scope=scope, kind=kind)
            db.add(row)
        row.body, row.updated_at, row.updated_by = body.model_dump(), svc.now(), who.name
        school = scope_school(scope)
        audit.record(db, at=svc.now(), actor=who.name, action=action, target=f"{scope}/{kind}", school_id=school,
                     client_ip=who.client_ip, steps=len(body.steps))  # fmt: skip
    return _out(kind, body, scope)


@router.delete("/response-plans/{scope}/{kind}", status_code=204, response_class=Response)
def delete_plan(scope: ScopePath, kind: KindPath, svc: ServicesDep, who: PrincipalDep) -> Response:
    """Forget a saved plan: the one below it applies again."""
    _may_edit(who, scope)
    with svc.sessions.begin() as db:
        row = db.get(PlanRow, (scope, kind))
        if row is None:
            raise HTTPException(404, f"no plan saved for {kind!r} at {scope}")
        db.delete(row)
        school = scope_school(scope)
        audit.record(db, at=svc.now(), actor=who.name, action="plan.delete", target=f"{scope}/{kind}",
                     school_id=school, client_ip=who.client_ip)  # fmt: skip
    return Response(status_code=204)


class SavedPlanOut(PlanOut):
    updated_by: str = Field(description="who saved it")


@router.get("/response-plans")
def list_plans(svc: ServicesDep, who: PrincipalDep, session: SessionDep) -> list[SavedPlanOut]:
    """The plans saved in the hub that apply to some school in the caller's scope (hub-wide ones: all)."""
    districts = {s.district for s in svc.settings.schools if s.district and who.scope.allows(s.id)}
    out = []
    for row in session.scalars(select(PlanRow).order_by(PlanRow.scope, PlanRow.kind)):
        kind, _, target = row.scope.partition(":")
        if kind == "school" and not who.scope.allows(target):
            continue
        if kind == "district" and who.scope.schools is not None and target not in districts:
            continue
        plan = Plan.model_validate(row.body)
        out.append(SavedPlanOut(**_out(row.kind, plan, row.scope).model_dump(), updated_by=row.updated_by))
    return out
