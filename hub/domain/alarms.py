"""The alarm ledger as a function: ``decide(alarm, message, now) -> Decision``.

Pure: no database, no clock of its own, no I/O. The store finds the alarm a message is about (the
device's open, active alarm of that kind and zone, or one by id), calls ``decide``, and writes back
the records and audit entries of the decision.

The rules:
- Every raise from an agent is a new alarm. A raise while the same alarm is still active ends the
  old one (``superseded``): the hub missed its reset, and this press is new. A raise older than the
  open alarm's (a late replay) is stored already ended.
- Messages of a gateway are ordered by its ``seq`` and time together (``made_before``): a clear or
  reset older than the open alarm's raise is not its end.
- A snapshot that no longer lists an active agent alarm ends it (``reconciled``), unless the snapshot
  is older than the raise. The hub's own alarms (offline, spool failure) are not the agent's to list.
- raised → acknowledged → resolved. Only a raised alarm can be acknowledged; a latched alarm (a
  one-click alarm, GB 50394) can be resolved only after its device reported the reset.
- An unacknowledged alarm escalates one level per ``after_s`` since the hub received it, on the
  hub's clock (a device's own timestamp may be backdated or replayed).
"""

import enum
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

HUB_ACTOR = "hub"


class AlarmState(enum.StrEnum):
    """Where a person is with the alarm."""

    RAISED = "raised"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


OPEN_STATES = (AlarmState.RAISED, AlarmState.ACKNOWLEDGED)


class Condition(enum.StrEnum):
    """Where the device is with it: still active, cleared by itself, or reset by a person at the box."""

    ACTIVE = "active"
    CLEARED = "cleared"
    RESET = "reset"


class EndedBy(enum.StrEnum):
    """What ended the condition."""

    DEVICE = "device"  # the agent reported the clear or the reset
    SUPERSEDED = "superseded"  # a newer raise of the same alarm
    RECONCILED = "reconciled"  # the agent's snapshot no longer lists it


class Severity(enum.StrEnum):
    """How urgent (contract.Severity)."""

    CRITICAL = "critical"
    MAJOR = "major"
    MINOR = "minor"
    INFO = "info"


class Disposition(enum.StrEnum):
    """What an alarm turned out to be, said by whoever resolves it (for false-alarm rates)."""

    REAL = "real"  # 真警
    FALSE_ALARM = "false_alarm"  # 误报 (pressed by mistake, a bird on the fence)
    DEVICE_FAULT = "device_fault"  # 设备故障
    DRILL = "drill"  # 演练
    TEST = "test"  # 测试
    OTHER = "other"  # 其他


class HubKind(enum.StrEnum):
    """The alarms the hub raises itself; every other kind is an agent's."""

    DEVICE_OFFLINE = "device_offline"
    GATEWAY_OFFLINE = "gateway_offline"
    SPOOL_FAILURE = "spool_failure"  # a gateway cannot write its spool: alarms may not survive its restart
    COMMUNICATION_TROUBLE = "communication_trouble"  # a police receiver cannot be reached
    PATROL_PROBLEM = "patrol_problem"  # an officer on video patrol reported what a camera shows (or does not)


HUB_KINDS = frozenset(HubKind)  # never listed by an agent's snapshot, never reconciled with one


def alarm_key(kind: str, zone: int | None) -> str:
    """An alarm's name within its device, as agents list it in snapshots: ``kind`` or ``kind:zone``."""
    return kind if zone is None else f"{kind}:{zone}"


class LedgerError(Exception):
    """An alarm operation that cannot be done (the API maps it to a status)."""


class AlarmNotFound(LedgerError):
    """No alarm with that id."""


class AlarmConflict(LedgerError):
    """The alarm's state does not allow the operation."""


@dataclass(frozen=True, slots=True)
class AlarmRecord:
    """One alarm of the ledger."""

    id: str
    school_id: str
    gateway_id: str
    device_id: str | None
    kind: str
    zone: int | None
    severity: str
    latched: bool
    raised_at: datetime  # the device's time, kept as evidence
    received_at: datetime | None  # the hub's: escalation runs on it
    state: AlarmState = AlarmState.RAISED
    condition: Condition = Condition.ACTIVE
    raised_event_id: str | None = None
    raised_seq: int | None = None
    value: Any = None
    image_id: str | None = None
    detected: str | None = None
    cleared_at: datetime | None = None
    reset_at: datetime | None = None
    ended_by: EndedBy | None = None
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None
    acknowledge_note: str | None = None
    resolved_at: datetime | None = None
    resolved_by: str | None = None
    resolve_note: str | None = None
    disposition: str | None = None  # what it turned out to be (DISPOSITIONS), said when resolving
    escalation_level: int = 0
    escalated_at: datetime | None = None
    next_escalation_at: datetime | None = None

    @property
    def is_open(self) -> bool:
        """Not yet resolved by a person."""
        return self.state in OPEN_STATES

    def made_before(self, seq: int, ts: datetime) -> bool:
        """Whether a message of the gateway (its seq and time) was made before this alarm's raise.

        Both must say so: a gateway whose spool was replaced starts its seq again, but not its clock.
        """
        return self.raised_seq is not None and seq < self.raised_seq and ts <= self.raised_at

    def ended(self, at: datetime, by: EndedBy) -> "AlarmRecord":
        """The condition is over: reset for a latched alarm, cleared otherwise."""
        if self.latched:
            return replace(self, condition=Condition.RESET, reset_at=at, ended_by=by)
        return replace(self, condition=Condition.CLEARED, cleared_at=at, ended_by=by)


# --- what can happen to an alarm ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Raised:
    """An agent reported an alarm raised (``alarm`` is the new record, as it would be stored)."""

    alarm: AlarmRecord


@dataclass(frozen=True, slots=True)
class Ended:
    """An agent reported the alarm cleared or reset (the gateway's seq and the device's time)."""

    seq: int
    ts: datetime


@dataclass(frozen=True, slots=True)
class Unlisted:
    """A snapshot (its seq and time) does not list the alarm as active."""

    seq: int
    ts: datetime


@dataclass(frozen=True, slots=True)
class HubCondition:
    """The hub's own condition (offline, spool failure, receiver trouble) began or ended at ``at``.

    ``alarm`` is the record to raise when it begins; ignored when it ends.
    """

    active: bool
    at: datetime
    alarm: AlarmRecord | None = None


@dataclass(frozen=True, slots=True)
class Acknowledge:
    """A person has seen the alarm and is acting on it."""

    who: str
    note: str | None


@dataclass(frozen=True, slots=True)
class Resolve:
    """A person closes the alarm with a note, and what it turned out to be."""

    who: str
    note: str
    disposition: str | None = None


@dataclass(frozen=True, slots=True)
class Escalate:
    """The sweep looks at an unacknowledged alarm whose next level may be due."""

    after_s: float


Message = Raised | Ended | Unlisted | HubCondition | Acknowledge | Resolve | Escalate


@dataclass(frozen=True, slots=True)
class Audit:
    """An audit entry to append."""

    actor: str
    action: str
    target: str
    detail: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Decision:
    """What changed: records to write (changed or new) and audit entries to append."""

    alarms: tuple[AlarmRecord, ...] = ()
    audits: tuple[Audit, ...] = ()


NOTHING = Decision()


def decide(alarm: AlarmRecord | None, message: Message, now: datetime) -> Decision:
    """Apply ``message`` to ``alarm`` (the open, active alarm it is about, or the one named; None if none)."""
    match message:
        case Raised():
            return _raised(alarm, message.alarm)
        case Ended():
            if alarm is None or alarm.made_before(message.seq, message.ts):
                return NOTHING
            return Decision((alarm.ended(message.ts, EndedBy.DEVICE),))
        case Unlisted():
            if alarm is None or alarm.kind in HUB_KINDS or alarm.made_before(message.seq, message.ts):
                return NOTHING
            return Decision((alarm.ended(now, EndedBy.RECONCILED),))
        case HubCondition():
            return _hub_condition(alarm, message)
        case Acknowledge():
            return _acknowledge(_named(alarm), message, now)
        case Resolve():
            return _resolve(_named(alarm), message, now)
        case Escalate():
            return _escalate(_named(alarm), message.after_s, now)


def _named(alarm: AlarmRecord | None) -> AlarmRecord:
    if alarm is None:
        raise AlarmNotFound("no such alarm")
    return alarm


def _raised(current: AlarmRecord | None, new: AlarmRecord) -> Decision:
    older = current is not None and new.raised_seq is not None and current.made_before(new.raised_seq, new.raised_at)
    if older:  # a late replay of an activation a newer one already followed
        return Decision((new.ended(new.raised_at, EndedBy.SUPERSEDED),))
    if current is not None:  # the hub missed its reset: this press is new
        return Decision((current.ended(new.raised_at, EndedBy.SUPERSEDED), new))
    return Decision((new,))


def _hub_condition(current: AlarmRecord | None, message: HubCondition) -> Decision:
    if message.active:
        if current is not None and current.condition == Condition.ACTIVE:
            return NOTHING
        if message.alarm is None:
            raise ValueError("a hub condition that begins needs the alarm to raise")
        return Decision((message.alarm,))
    if current is None or current.condition != Condition.ACTIVE:
        return NOTHING
    return Decision((replace(current, condition=Condition.CLEARED, cleared_at=message.at, ended_by=EndedBy.DEVICE),))


def _acknowledge(alarm: AlarmRecord, message: Acknowledge, now: datetime) -> Decision:
    if alarm.state != AlarmState.RAISED:
        raise AlarmConflict(f"alarm {alarm.id} is {alarm.state}; only a raised alarm can be acknowledged")
    done = replace(
        alarm,
        state=AlarmState.ACKNOWLEDGED,
        acknowledged_at=now,
        acknowledged_by=message.who,
        acknowledge_note=message.note,
    )
    return Decision((done,), (Audit(message.who, "alarm.acknowledge", alarm.id, {"note": message.note}),))


def _resolve(alarm: AlarmRecord, message: Resolve, now: datetime) -> Decision:
    if alarm.state == AlarmState.RESOLVED:
        raise AlarmConflict(f"alarm {alarm.id} is already resolved")
    if alarm.latched and alarm.reset_at is None:
        raise AlarmConflict(f"alarm {alarm.id} is latched: reset it at the device before resolving it")
    done = replace(
        alarm, state=AlarmState.RESOLVED, resolved_at=now, resolved_by=message.who, resolve_note=message.note,
        disposition=message.disposition,
    )  # fmt: skip
    if done.acknowledged_at is None:
        done = replace(done, acknowledged_at=now, acknowledged_by=message.who)
    detail = {"note": message.note, "disposition": message.disposition}
    return Decision((done,), (Audit(message.who, "alarm.resolve", alarm.id, detail),))


def _escalate(alarm: AlarmRecord, after_s: float, now: datetime) -> Decision:
    if alarm.state != AlarmState.RAISED or after_s <= 0:
        return NOTHING
    arrived = alarm.received_at or alarm.raised_at
    period = timedelta(seconds=after_s)
    level = max(int((now - arrived).total_seconds() // after_s), 0)
    scheduled = replace(alarm, next_escalation_at=arrived + period * (level + 1))
    if level <= alarm.escalation_level:
        return Decision((scheduled,))
    escalated = replace(scheduled, escalation_level=level, escalated_at=now)
    return Decision((escalated,), (Audit(HUB_ACTOR, "alarm.escalate", alarm.id, {"level": level}),))
