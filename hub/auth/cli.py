"""``campusguard hub user|token ...``: accounts managed on the hub's database directly (no HTTP).

Whoever can read ``hub.yaml`` and its database is already an administrator; these commands are how
the first account is made. Each change is in the audit log with actor ``cli``.
"""

import argparse
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from contract.messages import utc_now
from hub.auth import audit, passwords, tokens, users
from hub.db.engine import make_engine, migrate, session_factory
from hub.settings import load_settings

CLI_ACTOR = "cli"


def open_database(config: Path) -> sessionmaker[Session]:
    """Sessions on the configured database, migrated to the newest schema."""
    settings = load_settings(config)
    engine = make_engine(settings.database.url, settings.database.echo)
    migrate(engine)
    return session_factory(engine)


def _password(from_stdin: bool) -> tuple[str, bool]:
    """The password read from stdin (one line), or a generated one; and whether it was generated."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n"), False
    return passwords.generate_password(), True


def user_add(sessions: sessionmaker[Session], args: argparse.Namespace, now: datetime) -> int:
    """Create an account; print the generated password when none came on stdin."""
    password, generated = _password(args.password_stdin)
    with sessions.begin() as db:
        user = users.add(
            db, username=args.username, password=password, role=args.role, schools=args.school or [],
            district=args.district, display_name=args.display_name or "", now=now,
        )  # fmt: skip
        audit.record(db, at=now, actor=CLI_ACTOR, action="user.add", target=user.username, role=user.role)
    scope = f"district {user.district}" if user.district else "schools " + ", ".join(user.schools)
    print(f"user {user.username} added: {user.role}, {scope}")
    if generated:
        print(f"password: {password}")
    return 0


def user_list(sessions: sessionmaker[Session], _args: argparse.Namespace, _now: datetime) -> int:
    """One line per account."""
    with sessions() as db:
        for u in users.all_users(db):
            scope = f"district={u.district}" if u.district else "schools=" + ",".join(u.schools)
            state = "disabled" if u.disabled else "enabled"
            print(f"{u.username}\t{u.role}\t{scope}\t{state}\t{u.display_name}")
    return 0


def user_passwd(sessions: sessionmaker[Session], args: argparse.Namespace, now: datetime) -> int:
    """Set a new password (every session of the account ends)."""
    password, generated = _password(args.password_stdin)
    with sessions.begin() as db:
        user = users.require(db, args.username)
        users.set_password(db, user, password, now)
        audit.record(db, at=now, actor=CLI_ACTOR, action="user.password", target=user.username)
    print(f"password of {user.username} changed" + (f": {password}" if generated else ""))
    return 0


def user_disable(sessions: sessionmaker[Session], args: argparse.Namespace, now: datetime) -> int:
    """Disable (or with --enable, enable) an account."""
    with sessions.begin() as db:
        user = users.require(db, args.username)
        users.set_disabled(db, user, not args.enable)
        action = "user.enable" if args.enable else "user.disable"
        audit.record(db, at=now, actor=CLI_ACTOR, action=action, target=user.username)
    print(f"user {user.username} {'enabled' if args.enable else 'disabled'}")
    return 0


def token_create(sessions: sessionmaker[Session], args: argparse.Namespace, now: datetime) -> int:
    """Create an API token and print it once."""
    with sessions.begin() as db:
        user = users.require(db, args.username)
        row, token = tokens.create(db, user, args.name, now)
        audit.record(db, at=now, actor=CLI_ACTOR, action="token.create", target=user.username, token_id=row.id)
    print(f"token {row.id} ({row.name}) for {user.username}; shown once, keep it safe:")
    print(token)
    return 0


def token_list(sessions: sessionmaker[Session], args: argparse.Namespace, _now: datetime) -> int:
    """One line per token of an account."""
    with sessions() as db:
        user = users.require(db, args.username)
        for t in tokens.of_user(db, user.id):
            state = f"revoked {t.revoked_at:%Y-%m-%d %H:%M}" if t.revoked_at else "active"
            used = f"{t.last_used_at:%Y-%m-%d %H:%M}" if t.last_used_at else "never"
            print(f"{t.id}\t{t.name}\t{t.prefix}…\t{state}\tlast used {used}")
    return 0


def token_revoke(sessions: sessionmaker[Session], args: argparse.Namespace, now: datetime) -> int:
    """Revoke a token by id."""
    with sessions.begin() as db:
        found = tokens.revoke(db, args.token_id, now)
        if found is None:
            raise users.AccountError(f"no token {args.token_id}")
        audit.record(db, at=now, actor=CLI_ACTOR, action="token.revoke", target=str(args.token_id))
    print(f"token {args.token_id} revoked")
    return 0


Command = Callable[[sessionmaker[Session], argparse.Namespace, datetime], int]
COMMANDS: dict[str, Command] = {
    "user_add": user_add,
    "user_list": user_list,
    "user_passwd": user_passwd,
    "user_disable": user_disable,
    "token_create": token_create,
    "token_list": token_list,
    "token_revoke": token_revoke,
}


def run(args: argparse.Namespace) -> int:
    """Open the database of ``--config`` and run one account command; 2 on a refused change."""
    try:
        return COMMANDS[args.account_command](open_database(args.config), args, utc_now())
    except users.AccountError as exc:
        print(f"campusguard: {exc}", file=sys.stderr)
        return 2
