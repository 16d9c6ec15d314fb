"""School profiles over HTTP: read them, and edit or import one school's (docs/compliance.md).

A profile saved here replaces the school's in the ``compliance.profiles`` file; deleting it falls
back to the file's. IT staff, school and district admins edit within their scope; every save and
delete is in the audit log; the school is judged again at once.
"""

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException, Response
from pydantic import BaseModel
from sqlalchemy.orm import Session

from hub.api.deps import PrincipalDep, ServicesDep, SessionDep
from hub.auth import audit
from hub.auth.principal import Principal
from hub.auth.roles import can_edit_profiles
from hub.compliance.files import ComplianceFileError, configured, parse_profile, profile_data
from hub.compliance.stored import ProfileRow, profiles_of, sources

router = APIRouter(prefix="/compliance/profiles", tags=["compliance"])
MAX_POINTS = 5000  # devices one school may declare: far above any school, far below a memory problem


class ProfileOut(BaseModel):
    """A school's profile, where it comes from, and who last saved it in the hub."""

    school_id: str
    source: str  # hub | file
    updated_at: datetime | None = None
    updated_by: str | None = None
    profile: dict[str, Any]


def _out(session: Session, school_id: str, profile: dict[str, Any], source: str) -> ProfileOut:
    row = session.get(ProfileRow, school_id) if source == "hub" else None
    return ProfileOut(
        school_id=school_id,
        source=source,
        updated_at=row.updated_at if row else None,
        updated_by=row.updated_by if row else None,
        profile=profile,
    )


@router.get("")
def list_profiles(svc: ServicesDep, who: PrincipalDep, session: SessionDep) -> list[ProfileOut]:
    """Every profile of the schools in scope."""
    where = sources(session, svc.settings)
    return [
        _out(session, p.school_id, profile_data(p), where[p.school_id])
        for p in profiles_of(session, svc.settings)
        if who.scope.allows(p.school_id)
    ]


@router.get("/{school_id}")
def get_profile(school_id: str, svc: ServicesDep, who: PrincipalDep, session: SessionDep) -> ProfileOut:
    """One school's profile."""
    if who.scope.allows(school_id):
        for p in profiles_of(session, svc.settings):
            if p.school_id == school_id:
                return _out(session, school_id, profile_data(p), sources(session, svc.settings)[school_id])
    raise HTTPException(404, f"no profile of school {school_id!r} in your scope")


def _editable(who: Principal, school_id: str) -> None:
    if not who.scope.allows(school_id):
        raise HTTPException(404, f"no school {school_id!r} in your scope")
    if not can_edit_profiles(who.role):
        raise HTTPException(403, f"a {who.role} may not edit school profiles")


@router.put("/{school_id}", responses={422: {"description": "the profile does not validate: field and reason"}})
def put_profile(
    school_id: str,
    body: Annotated[dict[str, Any], Body(description="the profile, as in a profiles file's `schools` entry")],
    svc: ServicesDep,
    who: PrincipalDep,
) -> ProfileOut:
    """Save a school's profile in the hub (replacing the file's); it is judged again at once."""
    _editable(who, school_id)
    data = {"school_id": school_id, **body}
    if data["school_id"] != school_id:
        raise HTTPException(422, f"school_id: {data['school_id']!r} is not the school of this address")
    if len(data.get("points") or ()) > MAX_POINTS:
        raise HTTPException(422, f"points: more than {MAX_POINTS} devices")
    try:
        profile = parse_profile(data, f"profile of {school_id}")
    except ComplianceFileError as exc:
        raise HTTPException(422, str(exc)) from None
    unknown = [n for n in profile.packs or () if n not in configured(svc.settings).packs]
    if unknown:
        raise HTTPException(422, f"packs: no pack {', '.join(map(repr, unknown))}")
    saved = profile_data(profile)
    with svc.sessions.begin() as db:
        row = db.get(ProfileRow, school_id)
        action = "profile.update" if row else "profile.create"
        if row is None:
            row = ProfileRow(school_id=school_id)
            db.add(row)
        row.body, row.updated_at, row.updated_by = saved, svc.now(), who.name
        audit.record(db, at=svc.now(), actor=who.name, action=action, target=school_id, school_id=school_id,
                     client_ip=who.client_ip, points=len(profile.points))  # fmt: skip
        out = _out(db, school_id, saved, "hub")
    if svc.compliance is not None:
        svc.compliance.mark(school_id)
    return out


@router.delete("/{school_id}", status_code=204, response_class=Response)
def delete_profile(school_id: str, svc: ServicesDep, who: PrincipalDep) -> Response:
    """Forget the hub's profile of a school: the file's (if any) applies again."""
    _editable(who, school_id)
    with svc.sessions.begin() as db:
        row = db.get(ProfileRow, school_id)
        if row is None:
            raise HTTPException(404, f"no profile of school {school_id!r} saved in the hub")
        db.delete(row)
        audit.record(db, at=svc.now(), actor=who.name, action="profile.delete", target=school_id,
                     school_id=school_id, client_ip=who.client_ip)  # fmt: skip
    if svc.compliance is not None:
        svc.compliance.mark(school_id)
    return Response(status_code=204)
