"""Account management shared by the HTTP API and the CLI: add, list, change password, disable, tokens."""

import re
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.auth import passwords, sessions
from hub.auth.models import User
from hub.auth.roles import Role, check_assignment

USERNAME = re.compile(r"^[a-z0-9][a-z0-9._@-]{0,63}$")


class AccountError(ValueError):
    """An account operation that cannot be done; ``status`` is its HTTP answer."""

    status = 422


class NoSuchUser(AccountError):
    """No account with that username."""

    status = 404


class UserExists(AccountError):
    """The username is taken."""

    status = 409


def normalize(username: str) -> str:
    """Usernames are case-insensitive: stored and compared in lower case, trimmed."""
    return username.strip().lower()


def get(db: Session, username: str) -> User | None:
    """The account with this username, if any."""
    return db.scalars(select(User).where(User.username == normalize(username))).first()


def require(db: Session, username: str) -> User:
    """The account with this username; NoSuchUser otherwise."""
    user = get(db, username)
    if user is None:
        raise NoSuchUser(f"no user {normalize(username)!r}")
    return user


def add(
    db: Session,
    *,
    username: str,
    password: str,
    role: Role | str,
    schools: list[str],
    district: str | None,
    display_name: str = "",
    now: datetime,
) -> User:
    """Create an account; AccountError when the name, role, scope or password does not fit."""
    name = normalize(username)
    if not USERNAME.match(name):
        raise AccountError("a username is 1-64 of a-z 0-9 . _ @ - and starts with a letter or digit")
    schools = sorted(set(schools))
    try:
        check_assignment(role, schools, district)
        password_hash = passwords.hash_password(password)
    except ValueError as exc:
        raise AccountError(str(exc)) from None
    if get(db, name) is not None:
        raise UserExists(f"user {name!r} exists")
    user = User(
        username=name,
        display_name=display_name,
        password_hash=password_hash,
        role=role,
        schools=schools,
        district=district,
        disabled=False,
        created_at=now,
        password_changed_at=now,
    )
    db.add(user)
    db.flush()
    return user


def set_password(db: Session, user: User, password: str, now: datetime) -> None:
    """A new password; the user's sessions end (tokens stay: they are not the password)."""
    try:
        user.password_hash = passwords.hash_password(password)
    except passwords.PasswordRejected as exc:
        raise AccountError(str(exc)) from None
    user.password_changed_at = now
    sessions.end_all(db, user.id)


def set_disabled(db: Session, user: User, disabled: bool) -> None:
    """Disable (sessions end, tokens stop working) or enable an account."""
    user.disabled = disabled
    if disabled:
        sessions.end_all(db, user.id)


def all_users(db: Session) -> list[User]:
    """Every account, by username."""
    return list(db.scalars(select(User).order_by(User.username)))
