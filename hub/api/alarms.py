"""The alarm ledger over HTTP: list, read, acknowledge, resolve."""

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import func, select

from hub import ledger, live
from hub.api.deps import Principal, PrincipalDep, Services, ServicesDep, SessionDep
from hub.api.schemas import AcknowledgeIn, AlarmOut, Page, ResolveIn
from hub.db.models import Alarm
from hub.forwarding.api import with_forwarding
from hub.store import alarm_dict

router = APIRouter(prefix="/alarms", tags=["alarms"])


@router.get("")
def list_alarms(
    *,
    session: SessionDep,
    _who: PrincipalDep,
    state: Literal["raised", "acknowledged", "resolved", "open"] | None = None,
    school_id: str | None = None,
    device_id: str | None = None,
    kind: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 500,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Page[AlarmOut]:
    """Alarms, newest first; ``state=open`` means raised or acknowledged."""
    query = select(Alarm)
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
def get_alarm(alarm_id: str, session: SessionDep, _who: PrincipalDep) -> AlarmOut:
    """One alarm."""
    alarm = session.get(Alarm, alarm_id)
    if alarm is None:
        raise HTTPException(404, f"no alarm {alarm_id!r}")
    return with_forwarding(session, [AlarmOut.model_validate(alarm)])[0]


def _write(svc: Services, actor: str, alarm_id: str, action: str, note: str | None) -> live.LiveEvent:
    now = svc.now()
    with svc.sessions.begin() as session:
        if action == "acknowledge":
            alarm = ledger.acknowledge(session, alarm_id, actor, note, now)
        else:
            alarm = ledger.resolve(session, alarm_id, actor, note or "", now)
        [event] = live.record(session, [("alarm", alarm_dict(alarm))], now)
        return event


async def _change(
    svc: Services, *, who: Principal, alarm_id: str, action: str, note: str | None, by: str | None
) -> AlarmOut:
    actor = who.name if who.authenticated else (by or who.name)
    try:
        event = await run_in_threadpool(_write, svc, actor, alarm_id, action, note)
    except ledger.LedgerError as exc:
        raise HTTPException(exc.status, str(exc)) from None
    svc.live.publish(event)  # on the event loop: the broadcaster is not thread-safe
    return AlarmOut.model_validate(event.data)


@router.post("/{alarm_id}/acknowledge")
async def acknowledge_alarm(alarm_id: str, body: AcknowledgeIn, svc: ServicesDep, who: PrincipalDep) -> AlarmOut:
    """Acknowledge a raised alarm, optionally with a note."""
    return await _change(svc, who=who, alarm_id=alarm_id, action="acknowledge", note=body.note, by=body.by)


@router.post("/{alarm_id}/resolve")
async def resolve_alarm(alarm_id: str, body: ResolveIn, svc: ServicesDep, who: PrincipalDep) -> AlarmOut:
    """Resolve an alarm with a note; 409 while a latched alarm is not reset at its device."""
    return await _change(svc, who=who, alarm_id=alarm_id, action="resolve", note=body.note, by=body.by)
