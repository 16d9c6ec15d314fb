"""Login rate limit: failed logins per username and per client address over a sliding window.

Failures are rows in the database, so every hub process behind a load balancer counts the same ones.
While locked, even the right password is refused (429 with Retry-After); failures are not counted
then, so the lock ends on time however hard it is hammered.
"""

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from hub.auth.models import LoginFailure


@dataclass(frozen=True)
class Limits:
    """How many failures per window lock a username or a client address."""

    window_s: float
    per_user: int
    per_ip: int


def _wait(
    db: Session, column: InstrumentedAttribute[str], value: str, limit: int, *, now: datetime, window: timedelta
) -> float:
    rows = db.scalars(
        select(LoginFailure.at).where(column == value, LoginFailure.at > now - window).order_by(LoginFailure.at.desc())
    ).all()
    if len(rows) < limit:
        return 0.0
    # allowed again when the limit-th newest failure leaves the window
    return (rows[limit - 1] + window - now).total_seconds()


def retry_after(db: Session, username: str, client_ip: str, now: datetime, limits: Limits) -> int | None:
    """Seconds until a login for this username from this address may be tried; None when it may now."""
    window = timedelta(seconds=limits.window_s)
    wait = max(
        _wait(db, LoginFailure.username, username, limits.per_user, now=now, window=window),
        _wait(db, LoginFailure.client_ip, client_ip, limits.per_ip, now=now, window=window),
    )
    return max(1, math.ceil(wait)) if wait > 0 else None


def record_failure(db: Session, username: str, client_ip: str, now: datetime, limits: Limits) -> None:
    """Count a failed login; forget failures older than the window."""
    db.execute(delete(LoginFailure).where(LoginFailure.at <= now - timedelta(seconds=limits.window_s)))
    db.add(LoginFailure(at=now, username=username, client_ip=client_ip))


def clear_user(db: Session, username: str) -> None:
    """A successful login clears its username's failures (not its address's)."""
    db.execute(delete(LoginFailure).where(LoginFailure.username == username))
