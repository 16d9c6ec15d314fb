"""One transaction per ingest batch: inventory, transitions, events by id, and the alarms they cause."""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session, sessionmaker

from contract import DeviceInfo, Event
from hub import ledger, live
from hub.db.models import Alarm, Device, Gateway, School, StoredEvent, Transition
from hub.forwarding.outbox import Outbox
from hub.live import LiveEvent
from hub.state import GATEWAY_OFFLINE, Change, DeviceState

Key = tuple[str, str]


@dataclass
class Batch:
    """What one batch of messages asks the store to record."""

    inventory: list[tuple[str, str, DeviceInfo]] = field(default_factory=list)
    agent_versions: dict[Key, str] = field(default_factory=dict)
    changes: list[Change] = field(default_factory=list)
    events: dict[str, tuple[str, str, Event]] = field(default_factory=dict)
    escalate_after_s: float | None = None
    offline_alarms: bool = True
    prune_live_before: datetime | None = None

    def __bool__(self) -> bool:
        return bool(
            self.inventory
            or self.agent_versions
            or self.changes
            or self.events
            or self.escalate_after_s
            or self.prune_live_before
        )


@dataclass
class Outcome:
    """What the commit stored: ids to ack per gateway, and the alarms that changed."""

    acks: dict[Key, list[str]] = field(default_factory=lambda: defaultdict(list))
    stored: int = 0
    duplicates: int = 0
    alarms: list[dict[str, Any]] = field(default_factory=list)
    changes: list[LiveEvent] = field(default_factory=list)  # as stored for the live stream


def alarm_dict(alarm: Alarm) -> dict[str, Any]:
    """An alarm as plain JSON-able data (API responses and live stream)."""
    out: dict[str, Any] = {}
    for column in Alarm.__table__.columns:
        value = getattr(alarm, column.key)
        out[column.key] = value.isoformat() if isinstance(value, datetime) else value
    return out


class Store:
    """Writes batches and reads start-up state; synchronous, run in a worker thread."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions
        self.outbox: Outbox | None = None  # issue 6: set by the app when forwarding is configured

    def load_devices(self) -> list[DeviceState]:
        """Every known device with its last shown availability."""
        with self.sessions() as session:
            return [
                DeviceState(
                    d.school_id, d.gateway_id, d.id, d.kind, availability=d.availability, reason=d.reason, since=d.since
                )
                for d in session.scalars(select(Device)).all()
            ]

    def write(self, batch: Batch, now: datetime) -> Outcome:
        """Store the batch in one transaction; raise on failure (nothing is acked then)."""
        outcome = Outcome()
        with self.sessions.begin() as session:
            self._inventory(session, batch, now)
            self._changes(session, batch, outcome)
            self._events(session, batch, now, outcome)
            if batch.escalate_after_s is not None:
                outcome.alarms += [alarm_dict(a) for a in ledger.escalate(session, now, batch.escalate_after_s)]
            if self.outbox is not None:  # issue 6: forwarded alarms get their outbox rows in this transaction
                self.outbox.enqueue(session, outcome.alarms, now)
            if batch.prune_live_before is not None:
                live.prune(session, batch.prune_live_before)
            items = [("gateway" if c.device_id is None else "device", live.change_dict(c)) for c in batch.changes]
            outcome.changes = live.record(session, items + [("alarm", a) for a in outcome.alarms], now)
        return outcome

    def _inventory(self, session: Session, batch: Batch, now: datetime) -> None:
        schools = {s for s, _, _ in batch.inventory} | {s for s, _ in batch.agent_versions}
        schools |= {c.school_id for c in batch.changes if c.device_id is None}
        for school_id in schools:
            if session.get(School, school_id) is None:
                session.add(School(id=school_id, name="", first_seen=now))
        for (school_id, gateway_id), version in batch.agent_versions.items():
            self._gateway(session, school_id, gateway_id, now).agent_version = version
        for school_id, gateway_id, info in batch.inventory:
            row = session.get(Device, (school_id, info.id))
            if row is None:
                row = Device(school_id=school_id, id=info.id, availability="unknown", since=now)
                session.add(row)
            row.gateway_id, row.kind, row.profile = gateway_id, info.kind, info.profile
            row.vendor, row.model, row.location = info.vendor, info.model, info.location

    @staticmethod
    def _gateway(session: Session, school_id: str, gateway_id: str, now: datetime) -> Gateway:
        row = session.get(Gateway, (school_id, gateway_id))
        if row is None:
            row = Gateway(school_id=school_id, id=gateway_id, availability="unknown", since=now, last_seq=0)
            session.add(row)
        return row

    def _changes(self, session: Session, batch: Batch, outcome: Outcome) -> None:
        for c in batch.changes:
            session.add(
                Transition(
                    school_id=c.school_id,
                    gateway_id=c.gateway_id,
                    device_id=c.device_id,
                    at=c.at,
                    availability=c.availability,
                    reason=c.reason,
                )
            )
            if c.device_id is None:
                row: Gateway | Device | None = self._gateway(session, c.school_id, c.gateway_id, c.at)
                kind, subject = "gateway_offline", None
            else:
                row = session.get(Device, (c.school_id, c.device_id))
                kind, subject = "device_offline", c.device_id
            if row is not None:
                row.availability, row.reason, row.since = c.availability, c.reason, c.at
            if not batch.offline_alarms or c.reason == GATEWAY_OFFLINE:
                continue
            if c.availability == "offline" or c.previous == "offline":
                alarm = ledger.apply_condition(
                    session,
                    school_id=c.school_id,
                    gateway_id=c.gateway_id,
                    device_id=subject,
                    kind=kind,
                    active=c.availability == "offline",
                    at=c.at,
                )
                if alarm is not None:
                    session.flush()
                    outcome.alarms.append(alarm_dict(alarm))

    def _events(self, session: Session, batch: Batch, now: datetime, outcome: Outcome) -> None:
        ids = list(batch.events)
        known: set[str] = set()
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            known |= set(session.scalars(select(StoredEvent.event_id).where(StoredEvent.event_id.in_(chunk))))
        rows = []
        for event_id, (school_id, gateway_id, event) in batch.events.items():
            outcome.acks[(school_id, gateway_id)].append(event_id)
            if event_id in known:
                outcome.duplicates += 1
                continue
            rows.append(
                {
                    "event_id": event_id,
                    "school_id": school_id,
                    "gateway_id": gateway_id,
                    "device_id": event.device_id,
                    "seq": event.seq,
                    "ts": event.ts,
                    "type": event.type,
                    "alarm_type": event.alarm_type,
                    "payload": event.model_dump(mode="json", exclude_none=True),
                    "received_at": now,
                }
            )
        if rows:
            session.execute(insert(StoredEvent), rows)
        outcome.stored = len(rows)
        for row in sorted(rows, key=lambda r: (r["ts"], r["seq"])):  # raised before its reset
            school_id, gateway_id, event = batch.events[str(row["event_id"])]
            if event.is_alarm:
                alarm = ledger.apply_event(session, school_id, gateway_id, event)
                if alarm is not None:
                    session.flush()
                    outcome.alarms.append(alarm_dict(alarm))
