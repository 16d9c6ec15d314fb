"""The alarm ledger in the database: find the alarm a message is about, let ``hub.domain.alarms``
decide, write back what was decided (rows and audit entries).

Every function takes an open session and the time; the caller commits. The rules themselves (a new
alarm for every raise, ordering by the gateway's ``seq``, reconciliation, latching, escalation)
are in ``hub.domain.alarms``.
"""

from dataclasses import fields
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from contract import Event
from contract.messages import new_event_id
from hub.db.models import Alarm, AuditEntry
from hub.domain import alarms as domain
from hub.domain.alarms import AlarmRecord, AlarmState, Condition, EndedBy, HubKind

__all__ = [
    "HUB_KINDS",
    "OPEN_STATES",
    "SPOOL_FAILURE",
    "acknowledge",
    "apply_condition",
    "apply_event",
    "escalate",
    "reconcile",
    "resolve",
]

SPOOL_FAILURE = str(HubKind.SPOOL_FAILURE)
OPEN_STATES = tuple(str(state) for state in domain.OPEN_STATES)  # as stored, for queries
HUB_KINDS = tuple(sorted(str(kind) for kind in domain.HUB_KINDS))
_FIELDS = tuple(f.name for f in fields(AlarmRecord))


def record(row: Alarm) -> AlarmRecord:
    """The domain's record of a stored alarm."""
    values: dict[str, Any] = {name: getattr(row, name) for name in _FIELDS}
    values["state"] = AlarmState(row.state)
    values["condition"] = Condition(row.condition)
    values["ended_by"] = EndedBy(row.ended_by) if row.ended_by else None
    values["escalation_level"] = row.escalation_level or 0
    return AlarmRecord(**values)


def _write(session: Session, decision: domain.Decision, now: datetime, *rows: Alarm | None) -> list[Alarm]:
    """Store the decision's records, updating the rows they came from, and its audit entries."""
    known = {row.id: row for row in rows if row is not None}
    written: list[Alarm] = []
    for alarm in decision.alarms:
        row = known.get(alarm.id)
        if row is None:
            row = Alarm()
            session.add(row)
        for name in _FIELDS:
            value = getattr(alarm, name)
            setattr(row, name, str(value) if isinstance(value, str) else value)  # enums as their text
        written.append(row)
    for entry in decision.audits:
        session.add(
            AuditEntry(at=now, actor=entry.actor, action=entry.action, target=entry.target, detail=entry.detail)
        )
    return written


def open_alarm(session: Session, school_id: str, device_id: str | None, kind: str, zone: int | None) -> Alarm | None:
    """The device's open alarm of this kind and zone whose condition is still active, the newest if several."""
    query = select(Alarm).where(
        Alarm.school_id == school_id,
        Alarm.kind == kind,
        Alarm.state.in_(OPEN_STATES),
        Alarm.condition == str(Condition.ACTIVE),
        Alarm.device_id.is_(None) if device_id is None else Alarm.device_id == device_id,
        Alarm.zone.is_(None) if zone is None else Alarm.zone == zone,
    )
    # Activations a counter revealed share one timestamp: the gateway's seq orders them.
    order = (Alarm.raised_at.desc(), Alarm.raised_seq.desc().nulls_last())
    return session.scalars(query.order_by(*order).limit(1)).first()


def _decide(session: Session, row: Alarm | None, message: domain.Message, now: datetime) -> list[Alarm]:
    decision = domain.decide(record(row) if row is not None else None, message, now)
    return _write(session, decision, now, row)


def apply_event(session: Session, school_id: str, gateway_id: str, event: Event, now: datetime) -> list[Alarm]:
    """Apply a newly stored alarm event; return the alarms it created or changed."""
    alarm_type = event.alarm_type or "unknown"
    current = open_alarm(session, school_id, event.device_id, alarm_type, event.zone)
    if event.type != "alarm.raised":
        return _decide(session, current, domain.Ended(event.seq, event.ts), now)
    new = AlarmRecord(
        id=new_event_id(),
        school_id=school_id,
        gateway_id=gateway_id,
        device_id=event.device_id,
        kind=alarm_type,
        zone=event.zone,
        severity=event.severity or "major",
        latched=event.latched,
        raised_at=event.ts,  # the device's time, kept as evidence; the hub's is received_at
        received_at=now,
        raised_event_id=event.event_id,
        raised_seq=event.seq,
        value=event.value,
        image_id=event.image_id,
        detected=event.detected,
    )
    return _decide(session, current, domain.Raised(new), now)


def reconcile(
    session: Session,
    *,
    school_id: str,
    device_id: str,
    kind: str,
    zone: int | None,
    snapshot: tuple[int, datetime],
    now: datetime,
) -> Alarm | None:
    """End an alarm the agent's snapshot (its seq and time) no longer lists, unless taken before the raise."""
    current = open_alarm(session, school_id, device_id, kind, zone)
    changed = _decide(session, current, domain.Unlisted(*snapshot), now)
    return changed[0] if changed else None


def apply_condition(
    session: Session,
    *,
    school_id: str,
    gateway_id: str,
    device_id: str | None,
    kind: str,
    active: bool,
    at: datetime,
    severity: str = "major",
) -> Alarm | None:
    """Raise or clear a hub-made alarm (offline, spool failure, receiver trouble); return what changed."""
    current = open_alarm(session, school_id, device_id, kind, None)
    new = None
    if active:
        new = AlarmRecord(
            id=new_event_id(),
            school_id=school_id,
            gateway_id=gateway_id,
            device_id=device_id,
            kind=kind,
            zone=None,
            severity=severity,
            latched=False,
            raised_at=at,
            received_at=at,
        )
    changed = _decide(session, current, domain.HubCondition(active, at, new), at)
    return changed[0] if changed else None


def _get(session: Session, alarm_id: str) -> Alarm:
    alarm = session.get(Alarm, alarm_id, with_for_update=True)
    if alarm is None:
        raise domain.AlarmNotFound(f"no alarm {alarm_id!r}")
    return alarm


def acknowledge(session: Session, alarm_id: str, who: str, note: str | None, now: datetime) -> Alarm:
    """A person has seen the alarm and is acting on it (``AlarmConflict`` unless it is raised)."""
    row = _get(session, alarm_id)
    [alarm] = _decide(session, row, domain.Acknowledge(who, note), now)
    return alarm


def resolve(
    session: Session, alarm_id: str, who: str, note: str, now: datetime, *, disposition: str | None = None
) -> Alarm:
    """Close the alarm with a note (and what it was); a latched alarm needs its device's reset first."""
    row = _get(session, alarm_id)
    [alarm] = _decide(session, row, domain.Resolve(who, note, disposition), now)
    return alarm


def escalate(session: Session, now: datetime, after_s: float) -> list[Alarm]:
    """Escalate raised alarms nobody acknowledged in time; return those whose level rose.

    Only alarms whose next level is due are read (``next_escalation_at``, indexed), so a sweep
    costs what it escalates, not what is open.
    """
    period = timedelta(seconds=after_s)
    due = session.scalars(
        select(Alarm).where(
            Alarm.state == str(AlarmState.RAISED),
            or_(
                and_(Alarm.next_escalation_at.is_(None), Alarm.received_at <= now - period),
                Alarm.next_escalation_at <= now,
            ),
        )
    ).all()
    escalated = []
    for row in due:
        level = row.escalation_level
        [alarm] = _decide(session, row, domain.Escalate(after_s), now)
        if alarm.escalation_level > level:
            escalated.append(alarm)
    return escalated
