"""The record of every notification: which alarm, rule, channel and level, and what became of it."""

from datetime import datetime

from sqlalchemy import BigInteger, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hub.db.models import Base


class NotificationRow(Base):
    """One message about one alarm on one channel; unique per (alarm, rule, channel), so two hubs or a
    restart never send it twice."""

    __tablename__ = "notifications"
    __table_args__ = (UniqueConstraint("alarm_id", "rule", "channel", name="uq_notification"),)
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    alarm_id: Mapped[str] = mapped_column(String(64), index=True)
    school_id: Mapped[str] = mapped_column(String(64))
    rule: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(64))
    level: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16))  # sending | sent | failed | quiet
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]
    done_at: Mapped[datetime | None]
    detail: Mapped[str | None] = mapped_column(Text)
