"""Response plans: the bundled defaults, and the hub-wide, district and school plans admins save.

The plan for an alarm is the most specific one of its kind: the school's, else its district's,
else the hub-wide one, else the bundled default. A saved plan replaces the one below it whole
(steps and contacts together), so a guard never reads a mix of two authors' instructions.
"""

from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import JSON, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from hub.db.models import Base

DEFAULTS = Path(__file__).with_name("defaults.yaml")
SCOPE = r"^(\*|district:[A-Za-z0-9_.-]{1,64}|school:[A-Za-z0-9_.-]{1,64})$"


class Contact(BaseModel):
    """Someone to call: a name, what they are, and a number a phone can dial."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(min_length=1, max_length=40)
    role: str = Field(default="", max_length=40)
    phone: str = Field(pattern=r"^\+?[0-9][0-9 -]{1,23}$")


class Plan(BaseModel):
    """What to do, in order, and whom to call."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    steps: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(min_length=1, max_length=20)
    contacts: list[Contact] = Field(default_factory=list, max_length=10)


class PlanRow(Base):
    """A plan saved in the hub for one alarm kind at one scope (``*``, ``district:X``, ``school:X``)."""

    __tablename__ = "response_plans"
    scope: Mapped[str] = mapped_column(String(80), primary_key=True)
    kind: Mapped[str] = mapped_column(String(48), primary_key=True)
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[datetime]
    updated_by: Mapped[str] = mapped_column(String(64))


@cache
def defaults() -> dict[str, Plan]:
    """The bundled plans by kind."""
    data = yaml.safe_load(DEFAULTS.read_text(encoding="utf-8"))
    return {kind: Plan.model_validate(plan) for kind, plan in data["plans"].items()}


def scopes_of(school_id: str, district: str | None) -> list[str]:
    """The scopes whose plans apply to a school, most specific first."""
    return [f"school:{school_id}", *([f"district:{district}"] if district else []), "*"]


def plan_for(session: Session, kind: str, school_id: str, district: str | None) -> tuple[Plan, str] | None:
    """The plan for an alarm of ``kind`` at the school, and the scope it comes from (``default``)."""
    scopes = scopes_of(school_id, district)
    rows = {r.scope: r for r in session.scalars(select(PlanRow).where(PlanRow.kind == kind, PlanRow.scope.in_(scopes)))}
    for scope in scopes:
        if scope in rows:
            return Plan.model_validate(rows[scope].body), scope
    default = defaults().get(kind)
    return (default, "default") if default else None
