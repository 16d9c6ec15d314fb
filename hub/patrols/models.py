"""The patrol tables: plans admins keep, the runs officers walk, and each camera's check in a run."""

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hub.db.models import Base


class PatrolPlanRow(Base):
    """Which cameras to look at, how often and in which hours, for a school or a district."""

    __tablename__ = "patrol_plans"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    scope: Mapped[str] = mapped_column(String(80))  # school:ID | district:ID
    name: Mapped[str] = mapped_column(String(80))
    cameras: Mapped[list[Any]] = mapped_column(JSON)  # [[school_id, device_id], ...] in patrol order
    start: Mapped[str] = mapped_column(String(5))  # HH:MM, local
    end: Mapped[str] = mapped_column(String(5))
    every_min: Mapped[int] = mapped_column(Integer)
    grace_min: Mapped[int] = mapped_column(Integer)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    owed_from: Mapped[datetime]  # rounds are owed from here: creation, a new schedule, switched back on
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime]
    updated_by: Mapped[str] = mapped_column(String(64))


class PatrolRunRow(Base):
    """One round an officer walked (or is walking) through a plan's cameras."""

    __tablename__ = "patrol_runs"
    __table_args__ = (
        Index("ix_patrol_runs_plan", "plan_id", "started_at"),
        Index("ix_patrol_runs_started", "started_at"),
    )
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    plan_id: Mapped[str] = mapped_column(String(36))
    scope: Mapped[str] = mapped_column(String(80))
    plan_name: Mapped[str] = mapped_column(String(80))
    cameras: Mapped[list[Any]] = mapped_column(JSON)  # the plan's cameras when the run began
    officer: Mapped[str] = mapped_column(String(64))
    officer_name: Mapped[str] = mapped_column(String(200), default="")
    state: Mapped[str] = mapped_column(String(16))  # in_progress | completed
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    problems: Mapped[int] = mapped_column(Integer, default=0)


class PatrolCheckRow(Base):
    """What the officer saw on one camera in one run: normal, or a problem (and the alarm it opened)."""

    __tablename__ = "patrol_checks"
    run_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    school_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    device_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    result: Mapped[str] = mapped_column(String(16))  # normal | problem
    note: Mapped[str] = mapped_column(Text, default="")
    checked_at: Mapped[datetime]
    alarm_id: Mapped[str | None] = mapped_column(String(36))
