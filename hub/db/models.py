"""Tables of the hub's relational store (SQLAlchemy 2); Alembic migrations create them."""

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, DateTime, Index, Integer, LargeBinary, String, Text, TypeDecorator
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend (SQLite stores naive text)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Store UTC; refuse naive datetimes."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Load as aware UTC."""
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base of the hub's tables."""

    type_annotation_map: dict[Any, Any] = {datetime: UTCDateTime(), dict[str, Any]: JSON()}  # noqa: RUF012


class School(Base):
    """A school, known from the topics its gateways publish on."""

    __tablename__ = "schools"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    first_seen: Mapped[datetime]


class Gateway(Base):
    """A school gateway running one agent."""

    __tablename__ = "gateways"
    school_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    availability: Mapped[str] = mapped_column(String(16), default="unknown")
    reason: Mapped[str | None] = mapped_column(String(200))
    since: Mapped[datetime]
    agent_version: Mapped[str | None] = mapped_column(String(200))
    last_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    # The shared last-seen, written every few seconds by the hub holding the gateway (several hubs)
    last_seen_at: Mapped[datetime | None]
    last_heartbeat_at: Mapped[datetime | None]
    publish_lag_s: Mapped[float | None]
    spool_pending: Mapped[int | None]
    spool_failing: Mapped[bool | None]


class Device(Base):
    """A device from a gateway's birth message, with its current availability."""

    __tablename__ = "devices"
    school_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    gateway_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(200))
    profile: Mapped[str] = mapped_column(String(200), default="")
    vendor: Mapped[str] = mapped_column(String(200), default="")
    model: Mapped[str] = mapped_column(String(200), default="")
    location: Mapped[str] = mapped_column(String(200), default="")
    availability: Mapped[str] = mapped_column(String(16), default="unknown")
    reason: Mapped[str | None] = mapped_column(String(200))
    since: Mapped[datetime]
    # The shared summary of its last heartbeat's metrics (several hubs; ``HubState.shared_last_seen``)
    firmware: Mapped[str | None] = mapped_column(String(200))
    fault: Mapped[str | None] = mapped_column(String(64))
    address: Mapped[str] = mapped_column(String(200), default="")  # as its agent polls it, without credentials


class Transition(Base):
    """One availability change of a device (or, with no device, of a gateway)."""

    __tablename__ = "transitions"
    __table_args__ = (Index("ix_transitions_subject_at", "school_id", "device_id", "at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    school_id: Mapped[str] = mapped_column(String(64))
    gateway_id: Mapped[str] = mapped_column(String(64))
    device_id: Mapped[str | None] = mapped_column(String(64))
    at: Mapped[datetime]
    availability: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(200))


class StoredEvent(Base):
    """An agent event, stored once by its id whatever the number of replays."""

    __tablename__ = "events"
    __table_args__ = (Index("ix_events_device_ts", "school_id", "device_id", "ts"),)
    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    school_id: Mapped[str] = mapped_column(String(64))
    gateway_id: Mapped[str] = mapped_column(String(64))
    device_id: Mapped[str] = mapped_column(String(64))
    seq: Mapped[int] = mapped_column(BigInteger)
    ts: Mapped[datetime]
    type: Mapped[str] = mapped_column(String(32))
    alarm_type: Mapped[str | None] = mapped_column(String(200))
    payload: Mapped[dict[str, Any]]
    received_at: Mapped[datetime]


class Alarm(Base):
    """An alarm in the ledger: raised, acknowledged, resolved; with who, when and notes."""

    __tablename__ = "alarms"
    __table_args__ = (
        Index("ix_alarms_state_raised", "state", "raised_at"),
        Index("ix_alarms_state_received", "state", "received_at"),
        Index("ix_alarms_state_next_escalation", "state", "next_escalation_at"),
        Index("ix_alarms_key", "school_id", "device_id", "kind", "zone"),
    )
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    school_id: Mapped[str] = mapped_column(String(64))
    gateway_id: Mapped[str] = mapped_column(String(64))
    device_id: Mapped[str | None] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(200))
    zone: Mapped[int | None] = mapped_column(Integer)
    severity: Mapped[str] = mapped_column(String(16))
    latched: Mapped[bool] = mapped_column(Boolean, default=False)
    state: Mapped[str] = mapped_column(String(16), default="raised")
    condition: Mapped[str] = mapped_column(String(16), default="active")
    raised_at: Mapped[datetime]
    raised_event_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    cleared_at: Mapped[datetime | None]
    reset_at: Mapped[datetime | None]
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by: Mapped[str | None] = mapped_column(String(200))
    acknowledge_note: Mapped[str | None] = mapped_column(Text)
    acknowledged_by_name: Mapped[str | None] = mapped_column(String(200))  # their display name then
    resolved_at: Mapped[datetime | None]
    resolved_by: Mapped[str | None] = mapped_column(String(200))
    resolve_note: Mapped[str | None] = mapped_column(Text)
    resolved_by_name: Mapped[str | None] = mapped_column(String(200))
    disposition: Mapped[str | None] = mapped_column(
        String(16)
    )  # real | false_alarm | device_fault | drill | test | other
    escalated_at: Mapped[datetime | None]
    escalation_level: Mapped[int] = mapped_column(Integer, default=0)
    value: Mapped[Any] = mapped_column(JSON, nullable=True)  # the reading that raised it (kV, fault class)
    image_id: Mapped[str | None] = mapped_column(String(100))  # a camera snapshot on the gateway (hub.snapshots)
    raised_seq: Mapped[int | None] = mapped_column(BigInteger)  # the raising event's seq (reconciliation)
    received_at: Mapped[datetime | None]  # when the hub learnt of it: escalation runs on the hub's clock
    next_escalation_at: Mapped[datetime | None]  # set by the sweep: only alarms due are read
    ended_by: Mapped[str | None] = mapped_column(String(16))  # device | reconciled | superseded
    detected: Mapped[str | None] = mapped_column(String(16))  # restart | counter: found after the fact


class DeadLetterRow(Base):
    """A message the hub could not take (see hub.deadletters)."""

    __tablename__ = "dead_letters"
    __table_args__ = (Index("ix_dead_letters_received", "received_at"),)
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    received_at: Mapped[datetime]
    source: Mapped[str] = mapped_column(String(200))
    school_id: Mapped[str | None] = mapped_column(String(64))  # from the topic; None: not a gateway's topic
    topic: Mapped[str] = mapped_column(String(300))
    stage: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(64))
    detail: Mapped[str] = mapped_column(Text)
    payload: Mapped[str] = mapped_column(Text)
    size: Mapped[int] = mapped_column(Integer)


class Snapshot(Base):
    """A camera snapshot fetched from its gateway, kept because the gateway keeps it only for a while."""

    __tablename__ = "snapshots"
    image_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    school_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    gateway_id: Mapped[str] = mapped_column(String(64))
    device_id: Mapped[str | None] = mapped_column(String(64))
    taken_at: Mapped[datetime | None]
    fetched_at: Mapped[datetime]
    content_type: Mapped[str] = mapped_column(String(32))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    alarm_id: Mapped[str | None] = mapped_column(String(64), index=True)  # a picture taken for this alarm


class AuditEntry(Base):
    """Who did what, and what the hub decided on its own (escalations, watchdog verdicts)."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(200))
    detail: Mapped[dict[str, Any]]


class LiveRow(Base):
    """A change sent on the live stream, kept so a console can resume after Last-Event-ID (restarts too).

    The id is the stream's event id: assigned by the database, in commit order (see ``hub.live``).
    """

    __tablename__ = "live_events"
    __table_args__ = (Index("ix_live_events_at", "at"),)
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    at: Mapped[datetime]
    type: Mapped[str] = mapped_column(String(16))
    data: Mapped[dict[str, Any]]
