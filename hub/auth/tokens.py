"""API tokens for integrations: 32 random bytes, shown once, stored as SHA-256; named, owned, revocable.

A request with ``Authorization: Bearer <token>`` acts as the token's owner (same role and scope) and
needs no CSRF token: no cookie is involved, so a foreign page cannot make a browser send it.
"""

import secrets
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.auth.models import ApiToken, User
from hub.auth.sessions import TOUCH_EVERY, digest

TOKEN_PREFIX = "cgt_"  # noqa: S105 - a marker, not a secret: tells tokens apart in logs and scanners


def create(db: Session, user: User, name: str, now: datetime) -> tuple[ApiToken, str]:
    """A new token for the user; returns the row and the token itself (never stored, shown once)."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(
        token_hash=digest(token),
        prefix=token[: len(TOKEN_PREFIX) + 6],
        name=name,
        user_id=user.id,
        created_at=now,
        last_used_at=None,
        revoked_at=None,
    )
    db.add(row)
    db.flush()
    return row, token


def find(db: Session, token: str, now: datetime) -> tuple[ApiToken, User] | None:
    """The live token and its enabled owner; records its last use (the caller commits)."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    row = db.execute(
        select(ApiToken, User).join(User, User.id == ApiToken.user_id).where(ApiToken.token_hash == digest(token))
    ).first()
    if row is None:
        return None
    found, user = row
    if found.revoked_at is not None or user.disabled:
        return None
    if found.last_used_at is None or now - found.last_used_at >= TOUCH_EVERY:
        found.last_used_at = now
    return found, user


def of_user(db: Session, user_id: int) -> list[ApiToken]:
    """A user's tokens, revoked ones included, oldest first."""
    return list(db.scalars(select(ApiToken).where(ApiToken.user_id == user_id).order_by(ApiToken.id)))


def revoke(db: Session, token_id: int, now: datetime) -> ApiToken | None:
    """Revoke a token (it stops working at once); None when there is no such token."""
    row = db.get(ApiToken, token_id)
    if row is not None and row.revoked_at is None:
        row.revoked_at = now
    return row
