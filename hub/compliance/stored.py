"""School profiles edited in the hub (through the API or ``campusguard compliance import``).

A profile stored here replaces the same school's profile in the ``compliance.profiles`` file; the
file stays the starting point and what a deleted hub profile falls back to. Reads are cached on the
table's (count, latest change), so judging 5,000 schools does not parse 5,000 documents each time,
and an edit made through another hub is seen at its next read.
"""

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, String, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from hub.compliance.files import configured, parse_profile
from hub.db.models import Base
from hub.domain.compliance.model import SchoolProfile
from hub.settings import HubSettings


class ProfileRow(Base):
    """One school's profile as last saved in the hub, with who saved it and when."""

    __tablename__ = "school_profiles"
    school_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[datetime]
    updated_by: Mapped[str] = mapped_column(String(64))


_cache: dict[str, tuple[tuple[int, datetime | None], dict[str, SchoolProfile]]] = {}


def stored_profiles(session: Session, database: str) -> dict[str, SchoolProfile]:
    """Every profile saved in the hub, by school (cached until the table changes)."""
    version = session.execute(select(func.count(), func.max(ProfileRow.updated_at))).one()
    key = (int(version[0]), version[1])
    hit = _cache.get(database)
    if hit is not None and hit[0] == key:
        return hit[1]
    rows = session.scalars(select(ProfileRow))
    found = {r.school_id: parse_profile(r.body, f"hub profile {r.school_id}") for r in rows}
    _cache[database] = (key, found)
    return found


def profiles_of(session: Session, settings: HubSettings) -> tuple[SchoolProfile, ...]:
    """The profiles schools are judged by: the file's, each replaced by the hub's own where it has one."""
    stored = stored_profiles(session, settings.database.url)
    from_file = [p for p in configured(settings).profiles if p.school_id not in stored]
    return (*from_file, *stored.values())


def sources(session: Session, settings: HubSettings) -> dict[str, str]:
    """Where each school's profile comes from: ``hub`` (edited here) or ``file``."""
    stored = stored_profiles(session, settings.database.url)
    return {p.school_id: "hub" if p.school_id in stored else "file" for p in profiles_of(session, settings)}
