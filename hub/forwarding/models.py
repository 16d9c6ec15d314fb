"""Tables of the forwarding outbox: one row per alarm and route, every attempt, stable device numbers."""

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, Float, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hub.db.models import Base

BigId = BigInteger().with_variant(Integer, "sqlite")


class OutboxRow(Base):
    """An alarm (or its restore) to deliver on one route; written in the alarm's own transaction.

    ``state``: ``pending`` until a receiver ACKs (then ``delivered``); ``unroutable`` when the school
    has no account (visible in the API, never silently dropped). Rows of a route go out in id order.
    """

    __tablename__ = "forward_outbox"
    __table_args__ = (
        UniqueConstraint("alarm_id", "route", "restore", name="uq_forward_outbox_alarm_route"),
        Index("ix_forward_outbox_route_state", "route", "state", "id"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    alarm_id: Mapped[str] = mapped_column(String(64), index=True)
    route: Mapped[str] = mapped_column(String(64))
    restore: Mapped[bool] = mapped_column(Boolean, default=False)
    kind: Mapped[str] = mapped_column(String(200))
    school_id: Mapped[str] = mapped_column(String(64))
    device_id: Mapped[str | None] = mapped_column(String(64))
    account: Mapped[str | None] = mapped_column(String(16))
    area: Mapped[int] = mapped_column(Integer)
    zone: Mapped[int] = mapped_column(Integer)
    cid: Mapped[int] = mapped_column(Integer)
    sia: Mapped[str] = mapped_column(String(2))
    event_at: Mapped[datetime]
    created_at: Mapped[datetime]
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    rounds: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_until: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    delivered_to: Mapped[str | None] = mapped_column(String(64))
    last_error: Mapped[str | None] = mapped_column(Text)


class Attempt(Base):
    """One try to deliver an outbox row to one receiver; no result means the hub died meanwhile."""

    __tablename__ = "forward_attempts"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    outbox_id: Mapped[int] = mapped_column(BigId, index=True)
    receiver: Mapped[str] = mapped_column(String(64))
    hub: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    result: Mapped[str | None] = mapped_column(String(16))  # ack, nak, duh, timeout, unreachable, ...
    detail: Mapped[str | None] = mapped_column(Text)
    seq: Mapped[int | None] = mapped_column(Integer)
    rtt_ms: Mapped[float | None] = mapped_column(Float)


class DeviceNumber(Base):
    """A device's zone number at the receiving centre: assigned once per school, never reused."""

    __tablename__ = "forward_device_numbers"
    __table_args__ = (UniqueConstraint("school_id", "number", name="uq_forward_device_number"),)
    school_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    device_id: Mapped[str] = mapped_column(String(80), primary_key=True)  # a device, or "device:zone"
    number: Mapped[int] = mapped_column(Integer)
