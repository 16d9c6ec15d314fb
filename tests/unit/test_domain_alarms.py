"""Every transition of the alarm ledger, decided without a database (hub.domain.alarms)."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from hub.domain.alarms import (
    HUB_ACTOR,
    Acknowledge,
    AlarmConflict,
    AlarmNotFound,
    AlarmRecord,
    AlarmState,
    Audit,
    Condition,
    Decision,
    Ended,
    EndedBy,
    Escalate,
    HubCondition,
    HubKind,
    Message,
    Raised,
    Resolve,
    Unlisted,
    alarm_key,
    decide,
)

T0 = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)
NOW = T0 + timedelta(seconds=5)


def alarm(id_: str = "a1", *, seq: int = 10, at: datetime = T0, **fields: object) -> AlarmRecord:
    """A one-click alarm (latched) as raised by the agent with ``seq`` at ``at``."""
    base = AlarmRecord(
        id=id_,
        school_id="school-a",
        gateway_id="gw-01",
        device_id="panic-1",
        kind="panic",
        zone=None,
        severity="critical",
        latched=True,
        raised_at=at,
        received_at=at + timedelta(milliseconds=40),
        raised_event_id=f"ev-{id_}",
        raised_seq=seq,
    )
    return replace(base, **fields)  # type: ignore[arg-type]


BLIND = alarm("cam", kind="camera_covered", device_id="cam-1", latched=False, severity="major")
RESET = alarm(condition=Condition.RESET, reset_at=T0 + timedelta(seconds=2), ended_by=EndedBy.DEVICE)


def offline(active: bool = True) -> AlarmRecord:
    """The hub's device_offline alarm."""
    return alarm("off", kind=HubKind.DEVICE_OFFLINE, latched=False, severity="major", raised_seq=None)


# (name, the alarm found, message, the records decided, the audit actions)
TRANSITIONS: list[tuple[str, AlarmRecord | None, Message, list[AlarmRecord], list[str]]] = [
    ("a first raise is a new alarm", None, Raised(alarm()), [alarm()], []),
    (
        "a raise while the alarm is active ends the old one: the hub missed its reset",
        alarm(),
        Raised(alarm("a2", seq=20, at=T0 + timedelta(seconds=9))),
        [
            alarm(condition=Condition.RESET, reset_at=T0 + timedelta(seconds=9), ended_by=EndedBy.SUPERSEDED),
            alarm("a2", seq=20, at=T0 + timedelta(seconds=9)),
        ],
        [],
    ),
    (
        "a late replay of an older raise is stored, already superseded",
        alarm("a2", seq=20, at=T0 + timedelta(seconds=9)),
        Raised(alarm()),
        [alarm(condition=Condition.RESET, reset_at=T0, ended_by=EndedBy.SUPERSEDED)],
        [],
    ),
    (
        "a reset at the box ends a latched alarm's condition, not the alarm",
        alarm(),
        Ended(seq=11, ts=T0 + timedelta(seconds=2)),
        [RESET],
        [],
    ),
    ("a reset older than the raise is not its reset", alarm(), Ended(seq=9, ts=T0 - timedelta(seconds=1)), [], []),
    ("a reset with nothing open changes nothing", None, Ended(seq=11, ts=T0), [], []),
    (
        "a blind camera's alarm clears by itself",
        BLIND,
        Ended(seq=11, ts=T0 + timedelta(seconds=3)),
        [replace(BLIND, condition=Condition.CLEARED, cleared_at=T0 + timedelta(seconds=3), ended_by=EndedBy.DEVICE)],
        [],
    ),
    (
        "a snapshot that no longer lists the alarm ends it (reconciled, at the hub's time)",
        alarm(),
        Unlisted(seq=30, ts=T0 + timedelta(seconds=4)),
        [alarm(condition=Condition.RESET, reset_at=NOW, ended_by=EndedBy.RECONCILED)],
        [],
    ),
    ("a snapshot older than the raise does not end it", alarm(), Unlisted(seq=9, ts=T0 - timedelta(seconds=1)), [], []),
    (
        "a snapshot with an older seq but a later time does end it (a replaced spool restarts seq)",
        alarm(),
        Unlisted(seq=1, ts=T0 + timedelta(seconds=4)),
        [alarm(condition=Condition.RESET, reset_at=NOW, ended_by=EndedBy.RECONCILED)],
        [],
    ),
    ("the hub's own alarms are not reconciled with snapshots", offline(), Unlisted(seq=30, ts=NOW), [], []),
    ("a device going offline raises the hub's alarm", None, HubCondition(True, T0, offline()), [offline()], []),
    ("offline again while still offline: one alarm", offline(), HubCondition(True, NOW, offline()), [], []),
    (
        "back online clears the condition; a person still closes it",
        offline(),
        HubCondition(False, NOW),
        [replace(offline(), condition=Condition.CLEARED, cleared_at=NOW, ended_by=EndedBy.DEVICE)],
        [],
    ),
    ("back online with nothing open changes nothing", None, HubCondition(False, NOW), [], []),
    (
        "acknowledging a raised alarm",
        alarm(),
        Acknowledge("guard-1", "on my way"),
        [
            alarm(
                state=AlarmState.ACKNOWLEDGED,
                acknowledged_at=NOW,
                acknowledged_by="guard-1",
                acknowledge_note="on my way",
            )
        ],
        ["alarm.acknowledge"],
    ),
    (
        "resolving a latched alarm after its reset, unacknowledged: acknowledged by the same person",
        RESET,
        Resolve("guard-1", "drill"),
        [
            replace(
                RESET,
                state=AlarmState.RESOLVED,
                resolved_at=NOW,
                resolved_by="guard-1",
                resolve_note="drill",
                acknowledged_at=NOW,
                acknowledged_by="guard-1",
            )
        ],
        ["alarm.resolve"],
    ),
    (
        "resolving a cleared, non-latched alarm",
        replace(BLIND, condition=Condition.CLEARED, cleared_at=T0),
        Resolve("it-1", "lens cleaned"),
        [
            replace(
                BLIND,
                condition=Condition.CLEARED,
                cleared_at=T0,
                state=AlarmState.RESOLVED,
                resolved_at=NOW,
                resolved_by="it-1",
                resolve_note="lens cleaned",
                acknowledged_at=NOW,
                acknowledged_by="it-1",
            )
        ],
        ["alarm.resolve"],
    ),
]


@pytest.mark.parametrize(
    ("name", "found", "message", "records", "audits"), TRANSITIONS, ids=[t[0] for t in TRANSITIONS]
)
def test_transition(
    name: str, found: AlarmRecord | None, message: Message, records: list[AlarmRecord], audits: list[str]
) -> None:
    decision = decide(found, message, NOW)
    assert list(decision.alarms) == records, name
    assert [a.action for a in decision.audits] == audits


ACK, ACKED, CLOSED = Acknowledge("g", None), alarm(state=AlarmState.ACKNOWLEDGED), alarm(state=AlarmState.RESOLVED)
REFUSED: list[tuple[str, AlarmRecord | None, Message, type[Exception], str]] = [
    ("acknowledging an acknowledged alarm", ACKED, ACK, AlarmConflict, "only a raised"),
    ("acknowledging a resolved alarm", CLOSED, ACK, AlarmConflict, "only a raised"),
    ("resolving a latched alarm before its reset", alarm(), Resolve("g", "x"), AlarmConflict, "latched"),
    ("resolving twice", replace(RESET, state=AlarmState.RESOLVED), Resolve("g", "x"), AlarmConflict, "already"),
    ("acknowledging an alarm that does not exist", None, ACK, AlarmNotFound, "no such alarm"),
    ("resolving an alarm that does not exist", None, Resolve("g", "x"), AlarmNotFound, "no such alarm"),
]


@pytest.mark.parametrize(("name", "found", "message", "error", "text"), REFUSED, ids=[r[0] for r in REFUSED])
def test_refused(name: str, found: AlarmRecord | None, message: Message, error: type[Exception], text: str) -> None:
    with pytest.raises(error, match=text):
        decide(found, message, NOW)


def test_escalation_is_one_level_per_period_from_arrival_and_stops_at_acknowledgement() -> None:
    raised = alarm(received_at=T0)
    period = 60.0
    early = decide(raised, Escalate(period), T0 + timedelta(seconds=30))
    assert early == Decision((replace(raised, next_escalation_at=T0 + timedelta(seconds=60)),))

    first = decide(raised, Escalate(period), T0 + timedelta(seconds=61))
    [level1] = first.alarms
    assert (level1.escalation_level, level1.escalated_at) == (1, T0 + timedelta(seconds=61))
    assert level1.next_escalation_at == T0 + timedelta(seconds=120)
    assert first.audits == (Audit(HUB_ACTOR, "alarm.escalate", "a1", {"level": 1}),)

    again = decide(level1, Escalate(period), T0 + timedelta(seconds=90))  # not due yet: no second audit
    assert again.audits == () and again.alarms[0].escalation_level == 1

    late = decide(level1, Escalate(period), T0 + timedelta(seconds=250))  # a hub that slept: straight to 4
    assert late.alarms[0].escalation_level == 4

    acknowledged = replace(level1, state=AlarmState.ACKNOWLEDGED)
    assert decide(acknowledged, Escalate(period), T0 + timedelta(seconds=600)) == Decision()


def test_escalation_runs_on_the_hubs_clock_not_the_devices() -> None:
    backdated = alarm(at=T0 - timedelta(days=3), received_at=T0)  # a spool replay, or a wrong device clock
    decision = decide(backdated, Escalate(60), T0 + timedelta(seconds=10))
    assert decision.alarms[0].escalation_level == 0 and decision.audits == ()


def test_a_zone_is_part_of_the_alarms_name() -> None:
    assert alarm_key("fence_cut", 2) == "fence_cut:2"
    assert alarm_key("panic", None) == "panic"


def test_a_new_alarm_is_open_and_active() -> None:
    new = alarm()
    assert new.is_open and new.condition == Condition.ACTIVE and new.state == AlarmState.RAISED
    assert not replace(new, state=AlarmState.RESOLVED).is_open
