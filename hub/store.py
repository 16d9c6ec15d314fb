"""One transaction per ingest batch: inventory, transitions, events by id, and the alarms they cause."""

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, select, tuple_, update
from sqlalchemy.orm import Session, sessionmaker

from hub import ledger, live
from hub.batch import Batch, Key
from hub.db.models import Alarm, DeadLetterRow, Device, Gateway, School, StoredEvent, Transition
from hub.domain import offline
from hub.domain.state import DeviceState, StoredGateway
from hub.forwarding.outbox import Outbox
from hub.gateways import registry
from hub.live import LiveEvent

SHARED_LAST_SEEN = ("last_seen_at", "last_heartbeat_at", "publish_lag_s", "spool_pending", "spool_failing")
CHUNK = 500  # keys per IN (...) lookup: well under SQLite's and PostgreSQL's parameter limits


@dataclass
class Outcome:
    """What the commit stored: ids to ack per gateway, and the alarms that changed."""

    acks: dict[Key, list[str]] = field(default_factory=lambda: defaultdict(list))
    stored: int = 0
    duplicates: int = 0
    alarms: list[dict[str, Any]] = field(default_factory=list)
    changes: list[LiveEvent] = field(default_factory=list)  # as stored for the live stream
    forwarded: int = 0  # outbox rows written


def alarm_dict(alarm: Alarm) -> dict[str, Any]:
    """An alarm as plain JSON-able data (API responses and live stream)."""
    out: dict[str, Any] = {}
    for column in Alarm.__table__.columns:
        value = getattr(alarm, column.key)
        out[column.key] = value.isoformat() if isinstance(value, datetime) else value
    return out


def _existing(session: Session, columns: tuple[Any, ...], keys: list[Any]) -> set[Any]:
    """Which of ``keys`` (tuples of ``columns``' values) have a row; CHUNK keys per query."""
    found: set[Any] = set()
    match = columns[0] if len(columns) == 1 else tuple_(*columns)
    for start in range(0, len(keys), CHUNK):
        chunk = keys[start : start + CHUNK]
        found |= {tuple(row) for row in session.execute(select(*columns).where(match.in_(chunk)))}
    return found


def _device_state(d: Device) -> DeviceState:
    return DeviceState(
        d.school_id, d.gateway_id, d.id, d.kind, availability=d.availability, reason=d.reason, since=d.since,
        location=d.location,
    )  # fmt: skip


LAST_SEEN = (
    update(Gateway)
    .where(Gateway.school_id == bindparam("k_school"), Gateway.id == bindparam("k_id"))
    .values({c: bindparam(f"v_{c}") for c in SHARED_LAST_SEEN})
)

DEVICE_SUMMARY = (
    update(Device)
    .where(Device.school_id == bindparam("k_school"), Device.id == bindparam("k_id"))
    .values(firmware=bindparam("v_firmware"), fault=bindparam("v_fault"))
)


class Store:
    """Writes batches and reads start-up state; synchronous, run in a worker thread."""

    def __init__(self, sessions: sessionmaker[Session], outbox: Outbox | None = None) -> None:
        self.sessions = sessions
        self.outbox = outbox  # None when forwarding is off
        # cluster.partitions: of the gateways given, those this hub no longer holds, as the database
        # says in the writing transaction (``Partitions.fence``); None: one hub, it holds all.
        self.fence: Callable[[Session, set[Key]], set[Key]] | None = None

    def load_devices(self) -> list[DeviceState]:
        """Every known device with its last shown availability."""
        with self.sessions() as session:
            return [_device_state(d) for d in session.scalars(select(Device)).all()]

    def load_held(self, holds: Callable[[str, str], bool]) -> tuple[list[StoredGateway], list[DeviceState]]:
        """The gateways ``holds`` selects, with their devices: a hub taking them over (``hub.partitions``)."""
        with self.sessions() as session:
            gateways = [
                StoredGateway(
                    g.school_id, g.id, g.availability, g.reason, g.since, g.last_seen_at, g.spool_pending,
                    g.spool_failing,
                )
                for g in session.scalars(select(Gateway)).all()
                if holds(g.school_id, g.id)
            ]  # fmt: skip
            keys = [(g.school_id, g.id) for g in gateways]
            devices: list[DeviceState] = []
            for start in range(0, len(keys), CHUNK):
                query = select(Device).where(
                    tuple_(Device.school_id, Device.gateway_id).in_(keys[start : start + CHUNK])
                )
                devices += [_device_state(d) for d in session.scalars(query)]
            return gateways, devices

    def write(self, batch: Batch, now: datetime) -> Outcome:
        """Store the batch in one transaction; raise on failure (nothing is acked then)."""
        outcome = Outcome()
        with self.sessions.begin() as session:
            if self.fence is not None:
                self._fence(session, batch)
            self._inventory(session, batch, now)
            self._changes(session, batch, outcome)
            self._events(session, batch, now, outcome)
            self._reconcile(session, batch, now, outcome)
            self._gateway_alarms(session, batch, outcome)
            if batch.escalate_after_s is not None:
                outcome.alarms += [alarm_dict(a) for a in ledger.escalate(session, now, batch.escalate_after_s)]
            if self.outbox is not None:  # forwarded alarms get their outbox rows in this transaction
                outcome.forwarded = self.outbox.enqueue(session, outcome.alarms, now)
            if batch.prune_live_before is not None:
                live.prune(session, batch.prune_live_before)
            if batch.dead_letters:
                session.execute(insert(DeadLetterRow), [letter.row() for letter in batch.dead_letters])
            if batch.last_seen:
                session.connection().execute(LAST_SEEN, batch.last_seen)
            if batch.device_summaries:
                session.connection().execute(DEVICE_SUMMARY, batch.device_summaries)
            items = [("gateway" if c.device_id is None else "device", live.change_dict(c)) for c in batch.changes]
            outcome.changes = live.record(session, items + [("alarm", a) for a in outcome.alarms], now)
        return outcome

    def _fence(self, session: Session, batch: Batch) -> None:
        """Leave out of the batch the gateways another hub holds by now: a batch applied before this
        hub lost them (its lock connection ended while it was stalled) must not overwrite what the
        taker loaded."""
        assert self.fence is not None
        lost = self.fence(session, batch.gateways())
        if lost:
            query = select(Device.school_id, Device.id).where(
                tuple_(Device.school_id, Device.gateway_id).in_(sorted(lost))
            )
            batch.drop(lost, {(s, d) for s, d in session.execute(query)})

    def _inventory(self, session: Session, batch: Batch, now: datetime) -> None:
        schools = {s for s, _, _ in batch.inventory} | {s for s, _ in batch.agent_versions}
        schools |= {c.school_id for c in batch.changes if c.device_id is None}
        known_schools = {s for (s,) in _existing(session, (School.id,), sorted(schools))}
        missing = [{"id": s, "name": "", "first_seen": now} for s in sorted(schools - known_schools)]
        if missing:
            session.execute(insert(School), missing)
        gateways = set(batch.agent_versions) | {
            (c.school_id, c.gateway_id) for c in batch.changes if c.device_id is None
        }
        self._add_gateways(session, gateways, now)
        if batch.agent_versions:
            session.connection().execute(
                update(Gateway)
                .where(Gateway.school_id == bindparam("k_school"), Gateway.id == bindparam("k_id"))
                .values(agent_version=bindparam("v_version")),
                [{"k_school": s, "k_id": g, "v_version": v} for (s, g), v in batch.agent_versions.items()],
            )
        latest = {(s, info.id): (g, info) for s, g, info in batch.inventory}  # a later birth wins
        if not latest:
            return
        known = _existing(session, (Device.school_id, Device.id), sorted(latest))
        new_rows, updates = [], []
        for (school_id, device_id), (gateway_id, info) in latest.items():
            fields = {"gateway_id": gateway_id, "kind": info.kind, "profile": info.profile}
            fields |= {"vendor": info.vendor, "model": info.model, "location": info.location}
            fields["address"] = info.attributes.get("address", "")
            if (school_id, device_id) in known:
                updates.append({"k_school": school_id, "k_id": device_id, **{f"v_{k}": v for k, v in fields.items()}})
            else:
                new_rows.append(
                    {"school_id": school_id, "id": device_id, "availability": "unknown", "since": now, **fields}
                )
        if new_rows:
            session.execute(insert(Device), new_rows)
        if updates:
            columns = ("gateway_id", "kind", "profile", "vendor", "model", "location", "address")
            session.connection().execute(
                update(Device)
                .where(Device.school_id == bindparam("k_school"), Device.id == bindparam("k_id"))
                .values({c: bindparam(f"v_{c}") for c in columns}),
                updates,
            )

    @staticmethod
    def _add_gateways(session: Session, keys: set[Key], now: datetime) -> None:
        """Insert the gateways that have no row yet."""
        known = _existing(session, (Gateway.school_id, Gateway.id), sorted(keys))
        rows = [
            {"school_id": s, "id": g, "availability": "unknown", "since": now, "last_seq": 0}
            for s, g in sorted(keys - known)
        ]
        if rows:
            session.execute(insert(Gateway), rows)

    def _changes(self, session: Session, batch: Batch, outcome: Outcome) -> None:
        """Append every transition, set each subject's latest state: a few statements whatever the batch's size."""
        if not batch.changes:
            return
        session.execute(
            insert(Transition),
            [
                {
                    "school_id": c.school_id,
                    "gateway_id": c.gateway_id,
                    "device_id": c.device_id,
                    "at": c.at,
                    "availability": c.availability,
                    "reason": c.reason,
                }
                for c in batch.changes
            ],
        )
        latest = {
            (c.school_id, c.gateway_id if c.device_id is None else c.device_id, c.device_id is None): c
            for c in batch.changes
        }
        for table, is_gateway in ((Gateway, True), (Device, False)):
            params = [
                {"k_school": s, "k_id": i, "v_availability": c.availability, "v_reason": c.reason, "v_since": c.at}
                for (s, i, gw), c in latest.items()
                if gw is is_gateway
            ]
            if params:
                session.connection().execute(
                    update(table)
                    .where(table.school_id == bindparam("k_school"), table.id == bindparam("k_id"))
                    .values(
                        availability=bindparam("v_availability"),
                        reason=bindparam("v_reason"),
                        since=bindparam("v_since"),
                    ),
                    params,
                )
        self._conditions(session, batch, outcome)

    @staticmethod
    def _conditions(session: Session, batch: Batch, outcome: Outcome) -> None:
        """Raise or clear the hub-made offline alarms the changes call for (hub.domain.offline)."""
        if not batch.offline_alarms:
            return
        due = [c for c in batch.changes if offline.concerns_offline(c)]
        # Only an open, active alarm can be cleared: look them up once instead of once per recovered subject.
        schools = sorted({c.school_id for c in due if c.availability != offline.OFFLINE})
        active: set[tuple[str, str | None, str]] = set()
        for start in range(0, len(schools), CHUNK):
            query = select(Alarm.school_id, Alarm.device_id, Alarm.kind).where(
                Alarm.school_id.in_(schools[start : start + CHUNK]),
                Alarm.kind.in_([str(kind) for kind in offline.OFFLINE_KINDS]),
                Alarm.state.in_(ledger.OPEN_STATES),
                Alarm.condition == "active",
            )
            active |= {(s, d, k) for s, d, k in session.execute(query)}
        for call in offline.offline_calls(due, active):
            alarm = ledger.apply_condition(
                session,
                school_id=call.school_id,
                gateway_id=call.gateway_id,
                device_id=call.device_id,
                kind=str(call.kind),
                active=call.active,
                at=call.at,
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
                alarms = ledger.apply_event(session, school_id, gateway_id, event, now)
                if alarms:
                    session.flush()
                    outcome.alarms += [alarm_dict(a) for a in alarms]

    @staticmethod
    def _reconcile(session: Session, batch: Batch, now: datetime, outcome: Outcome) -> None:
        """End the alarms that snapshots no longer list as active (after this batch's own events)."""
        for school_id, device_id, kind, zone, seq, ts in batch.reconcile:
            alarm = ledger.reconcile(
                session,
                school_id=school_id,
                device_id=device_id,
                kind=kind,
                zone=zone,
                snapshot=(seq, ts),
                now=now,
            )
            if alarm is not None:
                session.flush()
                outcome.alarms.append(alarm_dict(alarm))

    @staticmethod
    def _gateway_alarms(session: Session, batch: Batch, outcome: Outcome) -> None:
        """Raise or clear gateway-level IT alarms (a failing spool)."""
        for school_id, gateway_id, kind, active, at in batch.gateway_alarms:
            alarm = ledger.apply_condition(
                session, school_id=school_id, gateway_id=gateway_id, device_id=None, kind=kind, active=active, at=at
            )
            if alarm is not None:
                session.flush()
                outcome.alarms.append(alarm_dict(alarm))

    def registered_gateways(self) -> frozenset[tuple[str, str]]:
        """(school, gateway) of every gateway in the registry that may speak."""
        with self.sessions() as session:
            return registry.registered(session)

    def load_active_alarms(self) -> list[dict[str, Any]]:
        """Every open alarm an agent raised whose condition is still active (for reconciliation)."""
        with self.sessions() as session:
            query = select(Alarm).where(
                Alarm.state.in_(ledger.OPEN_STATES),
                Alarm.condition == "active",
                Alarm.device_id.is_not(None),
                Alarm.kind.not_in(ledger.HUB_KINDS),
            )
            return [alarm_dict(a) for a in session.scalars(query)]
