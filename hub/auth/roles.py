"""Roles, what each may do, and which schools a caller may see (the scope).

Pure functions over plain values: the API enforces them in its queries and on every single resource.
Out of scope answers 404 (the resource's existence is not revealed); in scope but not allowed, 403.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, get_args

from sqlalchemy import ColumnElement, false, true
from sqlalchemy.orm import InstrumentedAttribute

Role = Literal["guard", "it_staff", "school_admin", "district_admin", "viewer"]
ROLES: tuple[Role, ...] = get_args(Role)
EVERY_SCHOOL = "*"  # district of a city-level account: every school, listed in the directory or not
# Roles that may be granted by a school_admin (never above their own).
SCHOOL_ADMIN_GRANTS: frozenset[str] = frozenset({"guard", "it_staff", "school_admin", "viewer"})
# Security alarms: a person who guards must handle them. IT staff handle every other (technical) kind.
SECURITY_KINDS: frozenset[str] = frozenset(
    {"panic", "intrusion", "wire_cut", "tamper", "door_forced", "door_held", "unknown"}
)


@dataclass(frozen=True)
class Scope:
    """The schools a caller may see: ``schools is None`` means every school."""

    schools: frozenset[str] | None

    def allows(self, school_id: str) -> bool:
        """Whether a resource of this school is visible."""
        return self.schools is None or school_id in self.schools

    def clause(self, column: InstrumentedAttribute[str] | InstrumentedAttribute[str | None]) -> ColumnElement[bool]:
        """A WHERE clause keeping rows of the visible schools."""
        if self.schools is None:
            return true()
        if not self.schools:
            return false()
        return column.in_(sorted(self.schools))


EVERYWHERE = Scope(None)


def scope_of(schools: Iterable[str], district: str | None, directory: dict[str, str | None]) -> Scope:
    """The scope of an account: its schools, plus every school of its district in the directory.

    ``directory`` maps school id to district id (``hub.yaml``'s ``schools``).
    """
    if district == EVERY_SCHOOL:
        return EVERYWHERE
    found = set(schools)
    if district is not None:
        found |= {school for school, d in directory.items() if d == district}
    return Scope(frozenset(found))


def can_handle_alarm(role: str, kind: str) -> bool:
    """Whether the role may acknowledge and resolve an alarm of this kind."""
    if role in ("guard", "school_admin", "district_admin"):
        return True
    if role == "it_staff":
        return kind not in SECURITY_KINDS
    return False


def can_handle_any_alarm(role: str) -> bool:
    """Whether the role may acknowledge or resolve some alarms (for the console's buttons)."""
    return role in ("guard", "school_admin", "district_admin", "it_staff")


def can_manage_users(role: str) -> bool:
    """Whether the role may manage accounts (a school_admin only within their own schools)."""
    return role in ("school_admin", "district_admin")


def can_edit_profiles(role: str) -> bool:
    """Whether the role may edit school profiles (what a school has, where, networked to what)."""
    return role in ("it_staff", "school_admin", "district_admin")


def check_assignment(role: str, schools: list[str], district: str | None) -> None:
    """Raise ValueError unless the role's scope fields fit it."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; roles: {', '.join(ROLES)}")
    if role == "district_admin" and (district is None or schools):
        raise ValueError("a district_admin has a district (or '*' for every school) and no schools")
    if role in ("guard", "school_admin") and (district is not None or not schools):
        raise ValueError(f"a {role} has one or more schools and no district")
    if role in ("it_staff", "viewer") and (district is None) == (not schools):
        raise ValueError(f"a {role} has either schools or a district")
