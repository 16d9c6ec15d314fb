"""Account administration over HTTP: users, API tokens and the audit log.

A district_admin manages the accounts inside their district ('*': every account); a school_admin
manages guard, it_staff, school_admin and viewer accounts of their own schools. Accounts one may not
manage are invisible (404), and creating one out of reach is refused (403). The audit log is for
district admins: rows of their schools, and rows by or about the accounts they manage.
"""

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from hub.api.deps import PrincipalDep, Services, ServicesDep
from hub.api.schemas import MAX_OFFSET, Page
from hub.auth import audit, passwords, tokens, users
from hub.auth.models import ApiToken, AuditEvent, User
from hub.auth.principal import Principal
from hub.auth.roles import EVERY_SCHOOL, SCHOOL_ADMIN_GRANTS, can_manage_users
from hub.auth.schemas import AuditOut, TokenCreated, TokenIn, TokenOut, UserCreated, UserIn, UserOut, UserPatch

router = APIRouter(tags=["accounts"])


def may_manage(who: Principal, role: str, schools: list[str], district: str | None) -> bool:
    """Whether the caller may create or change an account with this role and scope."""
    if who.role == "district_admin":
        if who.scope.schools is None:
            return True
        if district is not None:
            return district == who.district and district != EVERY_SCHOOL
        return bool(schools) and all(who.scope.allows(s) for s in schools)
    if who.role == "school_admin":
        mine = set(who.schools)
        return role in SCHOOL_ADMIN_GRANTS and district is None and bool(schools) and set(schools) <= mine
    return False


def _manager(who: Principal) -> None:
    if not can_manage_users(who.role):
        raise HTTPException(403, f"a {who.role} may not manage accounts")


def _managed(db: Session, who: Principal, username: str) -> User:
    """An account the caller may manage; 404 otherwise (others are not revealed)."""
    _manager(who)
    user = users.get(db, username)
    if user is None or not may_manage(who, user.role, user.schools, user.district):
        raise HTTPException(404, f"no user {users.normalize(username)!r}")
    return user


def _record(db: Session, svc: Services, who: Principal, action: str, user: User, **detail: Any) -> None:
    school = user.schools[0] if len(user.schools) == 1 else None
    audit.record(
        db, at=svc.now(), actor=who.name, action=action, target=user.username, school_id=school,
        client_ip=who.client_ip, **detail,
    )  # fmt: skip


@router.get("/users")
def list_users(who: PrincipalDep, svc: ServicesDep) -> Page[UserOut]:
    """The accounts the caller may manage."""
    _manager(who)
    with svc.sessions() as db:
        rows = [u for u in users.all_users(db) if may_manage(who, u.role, u.schools, u.district)]
    return Page(items=[UserOut.model_validate(u) for u in rows], total=len(rows))


@router.post("/users", status_code=201)
def add_user(body: UserIn, who: PrincipalDep, svc: ServicesDep) -> UserCreated:
    """Create an account; without a password, one is generated and returned once."""
    _manager(who)
    if not may_manage(who, body.role, body.schools, body.district):
        raise HTTPException(403, f"a {who.role} may not create this {body.role} account")
    password = body.password or passwords.generate_password()
    with svc.sessions.begin() as db:
        try:
            user = users.add(
                db, username=body.username, password=password, role=body.role, schools=body.schools,
                district=body.district, display_name=body.display_name, now=svc.now(),
            )  # fmt: skip
        except users.AccountError as exc:
            raise HTTPException(exc.status, str(exc)) from None
        _record(db, svc, who, "user.add", user, role=user.role)
        out = UserOut.model_validate(user)
    return UserCreated(user=out, password=None if body.password else password)


@router.patch(
    "/users/{username}",
    responses={
        403: {"description": "out of your role, or your own password"},
        409: {"description": "disabling your own account"},
    },
)
def change_user(username: str, body: UserPatch, who: PrincipalDep, svc: ServicesDep) -> UserOut:
    """Disable or enable an account (disabling ends its sessions and stops its tokens), rename, set a password."""
    with svc.sessions.begin() as db:
        user = _managed(db, who, username)
        if body.disabled is not None and body.disabled != user.disabled:
            if user.id == who.user_id:
                raise HTTPException(409, "you cannot disable your own account")
            users.set_disabled(db, user, body.disabled)
            _record(db, svc, who, "user.disable" if body.disabled else "user.enable", user)
        if body.password is not None:
            if user.id == who.user_id:  # a stolen session must not be enough to take the account
                raise HTTPException(403, "change your own password at /api/v1/auth/password, with the current one")
            try:
                users.set_password(db, user, body.password, svc.now())
            except users.AccountError as exc:
                raise HTTPException(exc.status, str(exc)) from None
            _record(db, svc, who, "user.password", user)
        if body.display_name is not None:
            user.display_name = body.display_name
        return UserOut.model_validate(user)


def _token_out(row: ApiToken, username: str) -> TokenOut:
    return TokenOut(
        id=row.id, name=row.name, username=username, prefix=row.prefix, created_at=row.created_at,
        last_used_at=row.last_used_at, revoked_at=row.revoked_at,
    )  # fmt: skip


@router.get("/users/{username}/tokens")
def list_tokens(username: str, who: PrincipalDep, svc: ServicesDep) -> Page[TokenOut]:
    """An account's API tokens (revoked ones too), without the tokens themselves."""
    with svc.sessions() as db:
        user = _managed(db, who, username)
        items = [_token_out(t, user.username) for t in tokens.of_user(db, user.id)]
    return Page(items=items, total=len(items))


@router.post("/users/{username}/tokens", status_code=201)
def create_token(username: str, body: TokenIn, who: PrincipalDep, svc: ServicesDep) -> TokenCreated:
    """A new API token acting as this account; the token is in this answer only."""
    with svc.sessions.begin() as db:
        user = _managed(db, who, username)
        row, token = tokens.create(db, user, body.name, svc.now())
        _record(db, svc, who, "token.create", user, token_id=row.id, name=body.name)
        return TokenCreated(**_token_out(row, user.username).model_dump(), token=token)


@router.delete("/tokens/{token_id}", status_code=204)
def revoke_token(token_id: int, who: PrincipalDep, svc: ServicesDep) -> None:
    """Revoke an API token (it stops working at once)."""
    with svc.sessions.begin() as db:
        row = db.get(ApiToken, token_id)
        owner = db.get(User, row.user_id) if row else None
        if row is None or owner is None:
            raise HTTPException(404, f"no token {token_id}")
        _managed(db, who, owner.username)
        if row.revoked_at is None:
            tokens.revoke(db, token_id, svc.now())
            _record(db, svc, who, "token.revoke", owner, token_id=row.id, name=row.name)


@router.get("/audit")
def read_audit(
    *,
    who: PrincipalDep,
    svc: ServicesDep,
    action: str | None = None,
    actor: str | None = None,
    school_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 500,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> Page[AuditOut]:
    """The audit log, newest first: district admins only, rows of their schools and accounts."""
    if who.role != "district_admin":
        raise HTTPException(403, "the audit log is for district admins")
    query = select(AuditEvent)
    with svc.sessions() as db:
        if who.scope.schools is not None:
            mine = [u.username for u in users.all_users(db) if may_manage(who, u.role, u.schools, u.district)]
            query = query.where(
                or_(who.scope.clause(AuditEvent.school_id), AuditEvent.actor.in_(mine), AuditEvent.target.in_(mine))
            )
        for column, value in (
            (AuditEvent.action, action),
            (AuditEvent.actor, actor),
            (AuditEvent.school_id, school_id),
        ):
            if value:
                query = query.where(column == value)
        if since:
            query = query.where(AuditEvent.at >= since)
        if until:
            query = query.where(AuditEvent.at < until)
        total = int(db.scalar(select(func.count()).select_from(query.subquery())) or 0)
        rows = db.scalars(query.order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(limit).offset(offset)).all()
        return Page(items=[AuditOut.model_validate(r) for r in rows], total=total)
