"""Server-side sessions: a random id in an HttpOnly cookie, stored as its SHA-256, with the CSRF token
bound to it; ended by logout, by idle time, by age, and when the user is disabled or changes password.
"""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from hub.auth.models import AuthSession, User

SESSION_COOKIE = "cg_session"
CSRF_COOKIE = "cg_csrf"
TOUCH_EVERY = timedelta(seconds=60)  # last_seen is written at most once a minute per session


def digest(secret: str) -> str:
    """The SHA-256 (hex) under which a session id or an API token is stored."""
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class NewSession:
    """A session just created: the cookie value (shown once) and its CSRF token."""

    cookie: str
    csrf_token: str
    expires_at: datetime


def start(
    db: Session, user: User, now: datetime, *, max_s: float, client_ip: str | None, replaces: str | None
) -> NewSession:
    """A fresh session for the user (a new id at every login); the session it ``replaces`` ends."""
    if replaces:
        db.execute(delete(AuthSession).where(AuthSession.id_hash == digest(replaces)))
    cookie, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    expires = now + timedelta(seconds=max_s)
    db.add(
        AuthSession(
            id_hash=digest(cookie),
            user_id=user.id,
            csrf_token=csrf,
            created_at=now,
            last_seen_at=now,
            expires_at=expires,
            client_ip=client_ip,
        )
    )
    return NewSession(cookie, csrf, expires)


def find(db: Session, cookie: str, now: datetime, *, idle_s: float) -> tuple[AuthSession, User] | None:
    """The live session of this cookie and its enabled user; touches its last use (the caller commits)."""
    row = db.execute(
        select(AuthSession, User)
        .join(User, User.id == AuthSession.user_id)
        .where(AuthSession.id_hash == digest(cookie))
    ).first()
    if row is None:
        return None
    found, user = row
    if user.disabled or found.expires_at <= now or found.last_seen_at + timedelta(seconds=idle_s) <= now:
        return None
    if now - found.last_seen_at >= TOUCH_EVERY:
        found.last_seen_at = now
    return found, user


def end(db: Session, cookie: str) -> None:
    """End the session of this cookie."""
    db.execute(delete(AuthSession).where(AuthSession.id_hash == digest(cookie)))


def end_all(db: Session, user_id: int) -> None:
    """End every session of a user (disabled, or a new password)."""
    db.execute(delete(AuthSession).where(AuthSession.user_id == user_id))


def prune(db: Session, now: datetime, *, idle_s: float) -> None:
    """Forget sessions that expired or idled out."""
    db.execute(
        delete(AuthSession).where(
            or_(AuthSession.expires_at <= now, AuthSession.last_seen_at <= now - timedelta(seconds=idle_s))
        )
    )
