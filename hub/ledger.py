"""The alarm ledger: raised → acknowledged → resolved, with who, when and notes.

Rules (GB 50394 5.2.3): a latched alarm (a pressed panic button) can be resolved only after its
device reported the reset; the console never clears it by itself. Hub-made alarms (a device or a
gateway offline) clear their condition when the subject is back; a person still closes them.
Every function takes an open session and the time; the caller commits.

Every raise from an agent is a new alarm: an agent keeps its alarm state across restarts and
reports a raise only for a new activation (a replay carries the same event id and is stored
once). A raise while the hub still holds the device's alarm as active means the hub missed the
reset, so the old alarm's condition ends (``superseded``) and the new press reaches the police:
a duplicate there costs less than a lost press. Snapshots reconcile the rest: an alarm the agent
no longer lists as active ends (``reconciled``), unless the snapshot is older than its raise.
Events are ordered by the gateway's ``seq``: a reset older than the open alarm's raise is not its.
"""

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from contract import Event
from contract.messages import new_event_id
from hub.db.models import Alarm, AuditEntry

OPEN_STATES = ("raised", "acknowledged")
HUB_ACTOR = "hub"
SPOOL_FAILURE = "spool_failure"  # a gateway cannot write its spool: alarms may not survive its restart
HUB_KINDS = ("device_offline", "gateway_offline", SPOOL_FAILURE)  # alarms the hub raises itself, not agents


def alarm_key(kind: str, zone: int | None) -> str:
    """An alarm's name within its device, as agents list it in snapshots: ``kind`` or ``kind:zone``."""
    return kind if zone is None else f"{kind}:{zone}"


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
    """The device's open alarm of this kind and zone whose condition is still active, the newest if several."""
    query = select(Alarm).where(
        Alarm.school_id == school_id,
        Alarm.kind == kind,
        Alarm.state.in_(OPEN_STATES),
        Alarm.condition == "active",
        Alarm.device_id.is_(None) if device_id is None else Alarm.device_id == device_id,
        Alarm.zone.is_(None) if zone is None else Alarm.zone == zone,
    )
    # Activations a counter revealed share one timestamp: the gateway's seq orders them.
    order = (Alarm.raised_at.desc(), Alarm.raised_seq.desc().nulls_last())
    return session.scalars(query.order_by(*order).limit(1)).first()


def _end(alarm: Alarm, at: datetime, by: str) -> None:
    """The alarm's condition is over: reset for a latched alarm, cleared otherwise."""
    if alarm.latched:
        alarm.condition, alarm.reset_at = "reset", at
    else:
        alarm.condition, alarm.cleared_at = "cleared", at
    alarm.ended_by = by


def apply_event(session: Session, school_id: str, gateway_id: str, event: Event, now: datetime) -> list[Alarm]:
    """Apply a newly stored alarm event; return the alarms it created or changed."""
    alarm_type = event.alarm_type or "unknown"
    current = _open_alarm(session, school_id, event.device_id, alarm_type, event.zone)
    older = current is not None and _before(current, event.seq, event.ts)
    if event.type == "alarm.raised":
        changed: list[Alarm] = []
        if current is not None and not older:
            _end(current, event.ts, "superseded")  # the hub missed its reset: this press is new
            changed.append(current)
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
            raised_at=event.ts,  # the device's time, kept as evidence; the hub's is received_at
            received_at=now,
            raised_event_id=event.event_id,
            raised_seq=event.seq,
            escalation_level=0,
            value=event.value,
            image_id=event.image_id,
            detected=event.detected,
        )
        if older:  # a late replay of an activation a newer one already followed
            _end(alarm, event.ts, "superseded")
        session.add(alarm)
        return [*changed, alarm]
    if current is None or older:
        return []
    _end(current, event.ts, "device")
    return [current]


def _before(alarm: Alarm, seq: int, ts: datetime) -> bool:
    """Whether a message of the gateway (its seq and time) was made before the alarm's raise.

    Both must say so: a gateway whose spool was replaced starts its seq again, but not its clock.
    """
    return alarm.raised_seq is not None and seq < alarm.raised_seq and ts <= alarm.raised_at


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
    current = _open_alarm(session, school_id, device_id, kind, zone)
    if current is None or kind in HUB_KINDS or _before(current, *snapshot):
        return None
    _end(current, now, "reconciled")
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
            received_at=at,
            escalation_level=0,
        )
        session.add(alarm)
        return alarm
    if current is None or current.condition != "active":
        return None
    current.condition, current.cleared_at, current.ended_by = "cleared", at, "device"
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
    """Escalate raised alarms nobody acknowledged within ``after_s`` of their arrival; one level per period.

    Time runs on the hub's clock from when the alarm arrived: a device's own timestamp may be
    backdated, skewed or replayed from a spool, and would escalate an alarm nobody has seen yet.
    Only alarms whose next level is due are read (``next_escalation_at``, indexed), so a sweep
    costs what it escalates, not what is open.
    """
    period = timedelta(seconds=after_s)
    due = session.scalars(
        select(Alarm).where(
            Alarm.state == "raised",
            or_(
                and_(Alarm.next_escalation_at.is_(None), Alarm.received_at <= now - period),
                Alarm.next_escalation_at <= now,
            ),
        )
    ).all()
    escalated = []
    for alarm in due:
        arrived = alarm.received_at or alarm.raised_at
        level = int((now - arrived).total_seconds() // after_s)
        alarm.next_escalation_at = arrived + period * (level + 1)
        if level > alarm.escalation_level:
            alarm.escalation_level, alarm.escalated_at = level, now
            audit(session, now, HUB_ACTOR, "alarm.escalate", alarm.id, level=level)
            escalated.append(alarm)
    return escalated
