"""The gateway registry over HTTP, for admins: who may speak on the broker (see docs/security.md).

Adding or rotating returns the broker password once; the hub keeps only its hash. After a change,
`campusguard broker config` rewrites the broker's password file and ACL.
"""

from datetime import datetime

from fastapi import APIRouter, HTTPException, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from hub.api.deps import PrincipalDep, ServicesDep
from hub.auth import audit
from hub.auth.principal import Principal
from hub.auth.roles import can_manage_users
from hub.gateways import registry
from hub.gateways.models import GatewayCredential

router = APIRouter(prefix="/gateway-registry", tags=["gateway registry"])
GATEWAY_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}/[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"


class GatewayIn(BaseModel):
    """A gateway to register."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=GATEWAY_NAME, description="school/gateway, e.g. school-001/gw-01")


class RegisteredOut(BaseModel):
    """A registered gateway (never its password)."""

    model_config = ConfigDict(from_attributes=True)
    school_id: str
    gateway_id: str
    username: str
    created_at: datetime
    rotated_at: datetime | None


class CredentialsOut(BaseModel):
    """Broker credentials, shown this once."""

    username: str
    password: str


def _allowed(who: Principal, school_id: str) -> None:
    if not who.scope.allows(school_id):
        raise HTTPException(404, f"no school {school_id!r} in your scope")
    if not can_manage_users(who.role):
        raise HTTPException(403, f"a {who.role} may not manage gateways")


@router.get("")
def list_registered(svc: ServicesDep, who: PrincipalDep) -> list[RegisteredOut]:
    """The registered gateways of the schools in scope."""
    with svc.sessions() as db:
        rows = [r for r in registry.active(db) if who.scope.allows(r.school_id)]
        return [RegisteredOut.model_validate(r) for r in rows]


@router.post("", status_code=201, responses={409: {"description": "already registered"}})
def register(body: GatewayIn, svc: ServicesDep, who: PrincipalDep) -> CredentialsOut:
    """Register a gateway; its broker password is in this answer only."""
    school_id, _ = registry.parse_name(body.name)
    _allowed(who, school_id)
    with svc.sessions.begin() as db:
        try:
            row, password = registry.add(db, body.name, svc.now())
        except registry.RegistryError as exc:
            raise HTTPException(409, str(exc)) from None
        _audit(db, svc, who, "gateway.add", row)
        return CredentialsOut(username=row.username, password=password)


@router.post("/{school_id}/{gateway_id}/rotate")
def rotate(school_id: str, gateway_id: str, svc: ServicesDep, who: PrincipalDep) -> CredentialsOut:
    """A new broker password for a registered gateway, in this answer only."""
    _allowed(who, school_id)
    name = f"{school_id}/{gateway_id}"
    with svc.sessions.begin() as db:
        try:
            password = registry.rotate(db, name, svc.now())
        except registry.RegistryError as exc:
            raise HTTPException(404, str(exc)) from None
        row = db.get(GatewayCredential, (school_id, gateway_id))
        assert row is not None
        _audit(db, svc, who, "gateway.rotate", row)
        return CredentialsOut(username=name, password=password)


@router.delete("/{school_id}/{gateway_id}", status_code=204, response_class=Response)
def revoke(school_id: str, gateway_id: str, svc: ServicesDep, who: PrincipalDep) -> Response:
    """Take a gateway off the broker (at the next `broker config`) and the hub (within refresh_s)."""
    _allowed(who, school_id)
    with svc.sessions.begin() as db:
        try:
            registry.revoke(db, f"{school_id}/{gateway_id}", svc.now())
        except registry.RegistryError as exc:
            raise HTTPException(404, str(exc)) from None
        row = db.get(GatewayCredential, (school_id, gateway_id))
        assert row is not None
        _audit(db, svc, who, "gateway.revoke", row)
    return Response(status_code=204)


def _audit(db: Session, svc: ServicesDep, who: Principal, action: str, row: GatewayCredential) -> None:
    audit.record(
        db,
        at=svc.now(), actor=who.name, action=action, target=row.username, school_id=row.school_id,
        client_ip=who.client_ip,
    )  # fmt: skip
