"""The alarm ledger over HTTP: list, read, acknowledge, resolve; only the caller's schools.

An alarm of a school outside the caller's scope answers 404 as if it did not exist; one the caller's
role may not handle (a viewer, or IT staff and a security alarm) answers 403. Every attempt to
acknowledge or resolve is in the audit log, refused ones included.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select

from hub import ledger, live
from hub.api.deps import PrincipalDep, Services, ServicesDep, SessionDep, visible_alarm
from hub.api.schemas import MAX_OFFSET, AcknowledgeIn, AlarmOut, Page, ResolveIn
from hub.auth import audit
from hub.auth.principal import Principal
from hub.auth.roles import SECURITY_KINDS
from hub.db.models import Alarm
from hub.domain.alarms import AlarmNotFound, LedgerError
from hub.forwarding.api import with_forwarding
from hub.sinks import Committed
from hub.store import alarm_dict

router = APIRouter(prefix="/alarms", tags=["alarms"])


@router.get("")
def list_alarms(
    *,
    session: SessionDep,
    who: PrincipalDep,
    state: Literal["raised", "acknowledged", "resolved", "open"] | None = None,
    school_id: str | None = None,
    device_id: str | None = None,
    kind: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 500,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> Page[AlarmOut]:
    """Alarms of the caller's schools, newest first; ``state=open`` means raised or acknowledged."""
    query = select(Alarm).where(who.scope.clause(Alarm.school_id))
    if state == "open":
        query = query.where(Alarm.state.in_(ledger.OPEN_STATES))
    elif state:
        query = query.where(Alarm.state == state)
    for column, value in ((Alarm.school_id, school_id), (Alarm.device_id, device_id), (Alarm.kind, kind)):
        if value:
            query = query.where(column == value)
    if since:
        query = query.where(Alarm.raised_at >= since)
    if until:
        query = query.where(Alarm.raised_at < until)
    total = int(session.scalar(select(func.count()).select_from(query.subquery())) or 0)
    rows = session.scalars(query.order_by(Alarm.raised_at.desc(), Alarm.id).limit(limit).offset(offset)).all()
    return Page(items=with_forwarding(session, [AlarmOut.model_validate(r) for r in rows]), total=total)


@router.get("/{alarm_id}")
def get_alarm(alarm_id: str, session: SessionDep, who: PrincipalDep) -> AlarmOut:
    """One alarm."""
    return with_forwarding(session, [AlarmOut.model_validate(visible_alarm(session, who, alarm_id))])[0]


@dataclass(frozen=True)
class _Action:
    who: Principal
    actor: str
    alarm_id: str
    verb: Literal["acknowledge", "resolve"]
    note: str | None
    disposition: str | None = None


class _Refused(Exception):
    def __init__(self, status: int, detail: str, outcome: str, school_id: str | None) -> None:
        super().__init__(detail)
        self.status, self.detail, self.outcome, self.school_id = status, detail, outcome, school_id


def _write(svc: Services, act: _Action) -> live.LiveEvent:
    now = svc.now()
    with svc.sessions.begin() as session:
        found = session.get(Alarm, act.alarm_id)
        if found is None or not act.who.scope.allows(found.school_id):
            # Filed under no school: under the real one it would tell the prober's own admins (who
            # read the prober's entries) where that alarm lives. City-wide admins see every probe.
            raise _Refused(404, f"no alarm {act.alarm_id!r}", "not_found", None)
        if not act.who.can_handle(found.kind):
            detail = f"a {act.who.role} may not {act.verb} a {found.kind} alarm"
            raise _Refused(403, detail, "forbidden", found.school_id)
        try:
            # The person's display name as it is now, kept with the alarm (not for a body's "by" with auth off).
            name = (act.who.display_name or None) if act.actor == act.who.name else None
            unacknowledged = found.acknowledged_at is None
            if act.verb == "acknowledge":
                alarm = ledger.acknowledge(session, act.alarm_id, act.actor, act.note, now)
                alarm.acknowledged_by_name = name
            else:
                alarm = ledger.resolve(
                    session, act.alarm_id, act.actor, act.note or "", now, disposition=act.disposition
                )
                alarm.resolved_by_name = name
                if unacknowledged:  # resolving acknowledges too
                    alarm.acknowledged_by_name = name
        except AlarmNotFound as exc:  # gone between the look-up and the lock
            raise _Refused(404, str(exc), "not_found", found.school_id) from None
        except LedgerError as exc:
            raise _Refused(409, str(exc), "conflict", found.school_id) from None
        audit.record(
            session, at=now, actor=act.actor, action=f"alarm.{act.verb}", target=act.alarm_id,
            school_id=alarm.school_id, client_ip=act.who.client_ip, kind=alarm.kind, note=act.note,
        )  # fmt: skip
        [event] = live.record(session, [("alarm", alarm_dict(alarm))], now)
        return event


def _refused(svc: Services, act: _Action, refused: _Refused) -> None:
    with svc.sessions.begin() as session:
        audit.record(
            session, at=svc.now(), actor=act.actor, action=f"alarm.{act.verb}", target=act.alarm_id,
            outcome=refused.outcome, school_id=refused.school_id, client_ip=act.who.client_ip, detail=refused.detail,
        )  # fmt: skip


async def _change(svc: Services, act: _Action) -> AlarmOut:
    try:
        event = await run_in_threadpool(_write, svc, act)
    except _Refused as exc:
        await run_in_threadpool(_refused, svc, act, exc)
        raise HTTPException(exc.status, exc.detail) from None
    # The sinks, as after ingest's commits, on the event loop (the broadcaster is not thread-safe).
    svc.ingest.announce(Committed(svc.now(), (event,), (event.data,)))
    return AlarmOut.model_validate(event.data)


def _actor(who: Principal, by: str | None) -> str:
    """The logged-in username; with auth off, the ``by`` field of the body."""
    return who.name if who.authenticated else (by or who.name)


@router.post("/{alarm_id}/acknowledge", responses={409: {"description": "not in a state that allows it"}})
async def acknowledge_alarm(alarm_id: str, body: AcknowledgeIn, svc: ServicesDep, who: PrincipalDep) -> AlarmOut:
    """Acknowledge a raised alarm, optionally with a note."""
    return await _change(svc, _Action(who, _actor(who, body.by), alarm_id, "acknowledge", body.note))


@router.post(
    "/{alarm_id}/resolve", responses={409: {"description": "already resolved, or latched and not reset at the device"}}
)
async def resolve_alarm(alarm_id: str, body: ResolveIn, svc: ServicesDep, who: PrincipalDep) -> AlarmOut:
    """Resolve an alarm with a note; 409 while a latched alarm is not reset at its device."""
    return await _change(svc, _Action(who, _actor(who, body.by), alarm_id, "resolve", body.note, body.disposition))


class MuteIn(BaseModel):
    """The ringing alarms a console silences (``mute: false``: lets them ring again)."""

    model_config = ConfigDict(extra="forbid")
    alarm_ids: list[Annotated[str, Field(max_length=64)]] = Field(min_length=1, max_length=200)
    mute: bool = True


class MuteOut(BaseModel):
    until: datetime | None = Field(description="when the alarms ring again if still unacknowledged (null: now)")


@router.post("/mute")
def mute_alarms(body: MuteIn, svc: ServicesDep, who: PrincipalDep, session: SessionDep) -> MuteOut:
    """Silence ringing alarms in this console for ``alarms.mute_s`` (never for good): recorded in the
    audit log per alarm, so a silenced panic alarm is always someone's decision, with a time."""
    now = svc.now()
    until = now + timedelta(seconds=svc.settings.alarms.mute_s) if body.mute else None
    alarms = [visible_alarm(session, who, alarm_id) for alarm_id in dict.fromkeys(body.alarm_ids)]
    with svc.sessions.begin() as db:
        for alarm in alarms:
            audit.record(
                db, at=now, actor=who.name, action="alarm.mute" if body.mute else "alarm.unmute", target=alarm.id,
                school_id=alarm.school_id, client_ip=who.client_ip, kind=alarm.kind,
                until=until.isoformat() if until else None,
            )  # fmt: skip
    return MuteOut(until=until)


class BulkAcknowledgeIn(BaseModel):
    """Technical alarms to acknowledge at once, with one note."""

    model_config = ConfigDict(extra="forbid")
    alarm_ids: list[Annotated[str, Field(max_length=64)]] = Field(min_length=1, max_length=200)
    note: str | None = Field(default=None, max_length=500)


class BulkResult(BaseModel):
    alarm_id: str
    status: int = Field(description="200, or why this one was not acknowledged (403, 404, 409, 422)")
    detail: str | None = None


@router.post("/acknowledge")
async def acknowledge_many(body: BulkAcknowledgeIn, svc: ServicesDep, who: PrincipalDep) -> list[BulkResult]:
    """Acknowledge technical alarms (devices offline, camera faults, power...) in one go, each audited.

    A security alarm (panic, intrusion, forced door, tamper, fence cut) is refused here (422): each
    of those is acknowledged on its own, by someone who looked at it."""
    out = []
    with svc.sessions() as session:
        mine = select(Alarm).where(Alarm.id.in_(body.alarm_ids), who.scope.clause(Alarm.school_id))
        kinds = {a.id: a.kind for a in session.scalars(mine)}  # another school's: 404 below, as one by one
    for alarm_id in dict.fromkeys(body.alarm_ids):
        if kinds.get(alarm_id) in SECURITY_KINDS:
            out.append(BulkResult(alarm_id=alarm_id, status=422, detail="a security alarm is acknowledged on its own"))
            continue
        try:
            await _change(svc, _Action(who, _actor(who, None), alarm_id, "acknowledge", body.note))
        except HTTPException as exc:
            out.append(BulkResult(alarm_id=alarm_id, status=exc.status_code, detail=str(exc.detail)))
        else:
            out.append(BulkResult(alarm_id=alarm_id, status=200))
    return out
