"""Schools, gateways, devices, device history and uptime: only of the schools in the caller's scope."""

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from sqlalchemy import Select, func, select, tuple_
from sqlalchemy.orm import Session

from hub.api.deps import PrincipalDep, ServicesDep, SessionDep
from hub.api.schemas import MAX_OFFSET, DayUptimeOut, DeviceOut, GatewayOut, Page, SchoolOut, TransitionOut, UptimeOut
from hub.auth.principal import Principal
from hub.db.models import Alarm, Device, Gateway, School, Transition
from hub.domain import rates
from hub.domain.state import HubState, device_summary
from hub.ledger import OPEN_STATES

router = APIRouter(tags=["inventory"])
Limit = Annotated[int, Query(ge=1, le=10_000)]


def _count(session: SessionDep, query: Select[tuple[object]]) -> int:
    return int(session.scalar(select(func.count()).select_from(query.subquery())) or 0)


def schools_in_scope(svc: ServicesDep, who: Principal, seen: Iterable[str]) -> list[str]:
    """The schools the caller may see: those of ``hub.yaml``'s directory and those ``seen`` (by a gateway)."""
    return sorted(s for s in set(seen) | {e.id for e in svc.settings.schools} if who.scope.allows(s))


def schools_asked(
    svc: ServicesDep, who: Principal, session: Session, district: str | None, school: str | None
) -> list[str]:
    """The schools in the caller's scope, narrowed to one district of the directory or one school."""
    listed = {s.id: s for s in svc.settings.schools}
    found = schools_in_scope(svc, who, session.scalars(select(School.id)))
    if district is not None:
        found = [s for s in found if s in listed and listed[s].district == district]
    if school is not None:
        found = [s for s in found if s == school]
    return found


@router.get("/schools")
def list_schools(session: SessionDep, svc: ServicesDep, who: PrincipalDep) -> Page[SchoolOut]:
    """The schools in scope: those in ``hub.yaml``'s directory and those that have a gateway."""
    listed = {s.id: s for s in svc.settings.schools}
    seen = {r.id: r for r in session.scalars(select(School).where(who.scope.clause(School.id)))}
    items = []
    for school_id in schools_in_scope(svc, who, seen):
        entry, row = listed.get(school_id), seen.get(school_id)
        name = entry.name if entry and entry.name else (row.name if row else "")
        district = entry.district if entry else None
        items.append(SchoolOut(id=school_id, name=name, district=district, first_seen=row.first_seen if row else None))
    return Page(items=items, total=len(items))


@router.get("/gateways")
def list_gateways(
    session: SessionDep, svc: ServicesDep, who: PrincipalDep, school_id: str | None = None
) -> Page[GatewayOut]:
    """Gateways with their liveness, agent version, heartbeat lag and spool, optionally of one school."""
    query = select(Gateway).where(who.scope.clause(Gateway.school_id)).order_by(Gateway.school_id, Gateway.id)
    if school_id:
        query = query.where(Gateway.school_id == school_id)
    rows = session.scalars(query).all()
    state = svc.ingest.state
    items = []
    shared = svc.takeover is not None  # several hubs: the shared last-seen, the same through every hub
    for row in rows:
        item, gw = GatewayOut.model_validate(row), state.gateways.get((row.school_id, row.id))
        if shared:
            item = item.model_copy(
                update={
                    "last_seen": row.last_seen_at, "last_heartbeat": row.last_heartbeat_at,
                    "publish_lag_s": row.publish_lag_s, "spool_pending": row.spool_pending,
                    "spool_failing": row.spool_failing,
                    "devices": len(state.members.get((row.school_id, row.id), ())),
                }
            )  # fmt: skip
        elif gw is not None:
            item = item.model_copy(
                update={
                    "last_seen": gw.last_seen, "last_heartbeat": gw.last_snapshot_at, "publish_lag_s": gw.lag_s,
                    "spool_pending": gw.spool_pending, "spool_failing": gw.spool_failing,
                    "devices": len(state.members.get((row.school_id, row.id), ())),
                }
            )  # fmt: skip
        items.append(item)
    return Page(items=items, total=len(items))


@router.get("/devices")
def list_devices(
    *,
    session: SessionDep,
    svc: ServicesDep,
    who: PrincipalDep,
    school_id: str | None = None,
    gateway_id: str | None = None,
    kind: str | None = None,
    availability: str | None = None,
    limit: Limit = 1_000,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> Page[DeviceOut]:
    """Devices with their current availability, filtered by school, gateway, kind, availability."""
    query = select(Device).where(who.scope.clause(Device.school_id))
    for column, value in (
        (Device.school_id, school_id),
        (Device.gateway_id, gateway_id),
        (Device.kind, kind),
        (Device.availability, availability),
    ):
        if value:
            query = query.where(column == value)
    total = _count(session, query)  # type: ignore[arg-type]
    rows = session.scalars(query.order_by(Device.school_id, Device.id).limit(limit).offset(offset)).all()
    return Page(items=described(session, svc.ingest.state, rows, svc.takeover is not None), total=total)


def described(session: Session, state: HubState, rows: Sequence[Device], shared: bool = False) -> list[DeviceOut]:
    """Devices as IT staff read them: last heard of, firmware, a camera's fault class, open alarms.

    ``shared`` (several hubs): from what the holding hub wrote to the database, so every hub answers
    alike; otherwise from this hub's memory of the last heartbeat.
    """
    open_alarms: dict[tuple[str, str | None], int] = {}
    heartbeats: dict[tuple[str, str], datetime | None] = {}
    for start in range(0, len(rows), 500):
        chunk = rows[start : start + 500]
        counted = session.execute(
            select(Alarm.school_id, Alarm.device_id, func.count())
            .where(
                Alarm.state.in_(OPEN_STATES),
                Alarm.school_id.in_({r.school_id for r in chunk}),
                Alarm.device_id.in_({r.id for r in chunk}),
            )
            .group_by(Alarm.school_id, Alarm.device_id)
        )
        open_alarms.update({(school, device): int(n) for school, device, n in counted})
        if shared:
            keys = sorted({(r.school_id, r.gateway_id) for r in chunk})
            found = select(Gateway.school_id, Gateway.id, Gateway.last_heartbeat_at)
            heartbeats |= {
                (s, g): t for s, g, t in session.execute(found.where(tuple_(Gateway.school_id, Gateway.id).in_(keys)))
            }
    out = []
    for row in rows:
        item = DeviceOut.model_validate(row)
        extra: dict[str, object] = {"active_alarms": open_alarms.get((row.school_id, row.id), 0)}
        if shared:
            last_seen = heartbeats.get((row.school_id, row.gateway_id))
            extra |= {"last_seen": last_seen, "firmware": row.firmware, "fault": row.fault}
        elif (last := state.metrics(row.school_id, row.id)) is not None:
            firmware, fault = device_summary(last[0])
            extra |= {"last_seen": last[1], "fault": fault, "firmware": firmware}
        out.append(item.model_copy(update=extra))
    return out


def _device(session: SessionDep, who: Principal, school_id: str, device_id: str) -> Device:
    device = session.get(Device, (school_id, device_id)) if who.scope.allows(school_id) else None
    if device is None:
        raise HTTPException(404, f"no device {device_id!r} in school {school_id!r}")
    return device


@router.get("/schools/{school_id}/devices/{device_id}")
def get_device(school_id: str, device_id: str, session: SessionDep, svc: ServicesDep, who: PrincipalDep) -> DeviceOut:
    """One device, with the metrics of its last snapshot."""
    [out] = described(
        session, svc.ingest.state, [_device(session, who, school_id, device_id)], svc.takeover is not None
    )
    last = svc.ingest.state.metrics(school_id, device_id)
    if last is not None:
        out = out.model_copy(update={"metrics": dict(last[0]), "metrics_at": last[1]})
    return out


@router.get("/schools/{school_id}/devices/{device_id}/history")
def device_history(
    *,
    school_id: str,
    device_id: str,
    session: SessionDep,
    who: PrincipalDep,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: Limit = 1_000,
) -> Page[TransitionOut]:
    """The device's availability transitions, newest first."""
    _device(session, who, school_id, device_id)
    query = select(Transition).where(Transition.school_id == school_id, Transition.device_id == device_id)
    if since:
        query = query.where(Transition.at >= since)
    if until:
        query = query.where(Transition.at < until)
    total = _count(session, query)  # type: ignore[arg-type]
    rows = session.scalars(query.order_by(Transition.at.desc(), Transition.id.desc()).limit(limit)).all()
    return Page(items=[TransitionOut.model_validate(r) for r in rows], total=total)


@router.get("/schools/{school_id}/devices/{device_id}/uptime")
def device_uptime(
    *,
    school_id: str,
    device_id: str,
    session: SessionDep,
    svc: ServicesDep,
    who: PrincipalDep,
    start: datetime | None = None,
    end: datetime | None = None,
) -> UptimeOut:
    """Time-weighted 在线率 and 完好率 per local day over [start, end) (default: the last 24 h)."""
    _device(session, who, school_id, device_id)
    end = (end or datetime.now(UTC)).astimezone(UTC)
    start = (start or end - timedelta(days=1)).astimezone(UTC)
    if start >= end or end - start > timedelta(days=400):
        raise HTTPException(422, "start must be before end, and the range at most 400 days")
    subject = (Transition.school_id == school_id, Transition.device_id == device_id)
    before = session.scalars(
        select(Transition).where(*subject, Transition.at <= start).order_by(Transition.at.desc()).limit(1)
    ).first()
    rows = session.scalars(
        select(Transition).where(*subject, Transition.at > start, Transition.at < end).order_by(Transition.at)
    ).all()
    tz = svc.settings.school_tz(school_id)
    initial = before.availability if before else "unknown"
    days = rates.tally_by_day(initial, [(r.at, r.availability) for r in rows], start, end, tz=tz)
    whole = rates.total(days)
    return UptimeOut(
        device_id=device_id,
        school_id=school_id,
        timezone=tz.key,
        start=start,
        end=end,
        uptime=whole.online_rate,
        intact=whole.intact_rate,
        coverage=whole.coverage,
        days=[_day_out(d) for d in days],
    )


def _day_out(d: rates.DayTally) -> DayUptimeOut:
    t = d.tally
    return DayUptimeOut(
        day=d.day.isoformat(),
        start=d.start,
        end=d.end,
        online_s=t.online_s,
        degraded_s=t.degraded_s,
        offline_s=t.offline_s,
        unknown_s=t.unknown_s,
        maintenance_s=t.maintenance_s,
        uptime=t.online_rate,
        intact=t.intact_rate,
        coverage=t.coverage,
    )
