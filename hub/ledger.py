"""The alarm ledger: raised → acknowledged → resolved, with who, when and notes.

Rules (GB 50394 5.2.3): a latched alarm (a pressed panic button) can be resolved only after its
device reported the reset; the console never clears it by itself. Hub-made alarms (a device or a
gateway offline) clear their condition when the subject is back; a person still closes them.
Every function takes an open session and the time; the caller commits.
"""

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from contract import Event
from contract.messages import new_event_id
from hub.db.models import Alarm, AuditEntry

OPEN_STATES = ("raised", "acknowledged")
HUB_ACTOR = "hub"


class LedgerError(Exception):
    """An alarm operation that cannot be done."""

    status = 409


class AlarmNotFound(LedgerError):
    """No alarm with that id."""

    status = 404


class AlarmConflict(LedgerError):
    """The alarm's state does not allow the operation."""


def audit(session: Session, at: datetime, actor: str, action: str, target: str, **detail: Any) -> None:
    """Append one audit entry."""
    session.add(AuditEntry(at=at, actor=actor, action=action, target=target, detail=detail))


def _open_alarm(session: Session, school_id: str, device_id: str | None, kind: str, zone: int | None) -> Alarm | None:
    query = select(Alarm).where(
        Alarm.school_id == school_id,
        Alarm.kind == kind,
        Alarm.state.in_(OPEN_STATES),
        Alarm.device_id.is_(None) if device_id is None else Alarm.device_id == device_id,
        Alarm.zone.is_(None) if zone is None else Alarm.zone == zone,
    )
    return session.scalars(query.order_by(Alarm.raised_at.desc()).limit(1)).first()


def apply_event(session: Session, school_id: str, gateway_id: str, event: Event) -> Alarm | None:
    """Apply a newly stored alarm event; return the alarm it created or changed."""
    alarm_type = event.alarm_type or "unknown"
    current = _open_alarm(session, school_id, event.device_id, alarm_type, event.zone)
    if event.type == "alarm.raised":
        if current is not None and current.condition == "active":
            return None  # raised again while still up (agent restart): one alarm, not two
        alarm = Alarm(
            id=new_event_id(),
            school_id=school_id,
            gateway_id=gateway_id,
            device_id=event.device_id,
            kind=alarm_type,
            zone=event.zone,
            severity=event.severity or "major",
            latched=event.latched,
            state="raised",
            condition="active",
            raised_at=event.ts,
            raised_event_id=event.event_id,
            escalation_level=0,
            value=event.value,
            image_id=event.image_id,
        )
        session.add(alarm)
        return alarm
    if current is None:
        return None
    if event.type == "alarm.reset":
        current.condition, current.reset_at = "reset", event.ts
    elif event.type == "alarm.cleared":
        current.condition, current.cleared_at = "cleared", event.ts
    return current


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
    """Raise or clear a hub-made alarm (device_offline, gateway_offline); return what changed."""
    current = _open_alarm(session, school_id, device_id, kind, None)
    if active:
        if current is not None and current.condition == "active":
            return None
        alarm = Alarm(
            id=new_event_id(),
            school_id=school_id,
            gateway_id=gateway_id,
            device_id=device_id,
            kind=kind,
            zone=None,
            severity=severity,
            latched=False,
            state="raised",
            condition="active",
            raised_at=at,
            escalation_level=0,
        )
        session.add(alarm)
        return alarm
    if current is None or current.condition != "active":
        return None
    current.condition, current.cleared_at = "cleared", at
    return current


def _get(session: Session, alarm_id: str) -> Alarm:
    alarm = session.get(Alarm, alarm_id, with_for_update=True)
    if alarm is None:
        raise AlarmNotFound(f"no alarm {alarm_id!r}")
    return alarm


def acknowledge(session: Session, alarm_id: str, who: str, note: str | None, now: datetime) -> Alarm:
    """A person has seen the alarm and is acting on it."""
    alarm = _get(session, alarm_id)
    if alarm.state != "raised":
        raise AlarmConflict(f"alarm {alarm_id} is {alarm.state}; only a raised alarm can be acknowledged")
    alarm.state, alarm.acknowledged_at, alarm.acknowledged_by, alarm.acknowledge_note = "acknowledged", now, who, note
    audit(session, now, who, "alarm.acknowledge", alarm_id, note=note)
    return alarm


def resolve(session: Session, alarm_id: str, who: str, note: str, now: datetime) -> Alarm:
    """Close the alarm with a note; a latched alarm needs its device's reset first."""
    alarm = _get(session, alarm_id)
    if alarm.state == "resolved":
        raise AlarmConflict(f"alarm {alarm_id} is already resolved")
    if alarm.latched and alarm.reset_at is None:
        raise AlarmConflict(f"alarm {alarm_id} is latched: reset it at the device before resolving it")
    if alarm.acknowledged_at is None:
        alarm.acknowledged_at, alarm.acknowledged_by = now, who
    alarm.state, alarm.resolved_at, alarm.resolved_by, alarm.resolve_note = "resolved", now, who, note
    audit(session, now, who, "alarm.resolve", alarm_id, note=note)
    return alarm


def escalate(session: Session, now: datetime, after_s: float) -> list[Alarm]:
    """Escalate raised alarms nobody acknowledged within ``after_s``; one level per period."""
    due = session.scalars(
        select(Alarm).where(Alarm.state == "raised", Alarm.raised_at <= now - timedelta(seconds=after_s))
    ).all()
    escalated = []
    for alarm in due:
        level = int((now - alarm.raised_at).total_seconds() // after_s)
        if level > alarm.escalation_level:
            alarm.escalation_level, alarm.escalated_at = level, now
            audit(session, now, HUB_ACTOR, "alarm.escalate", alarm.id, level=level)
            escalated.append(alarm)
    return escalated
