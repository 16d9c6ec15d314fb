"""The gateways allowed on the broker, each with credentials of its own.

A gateway's broker username is ``school/gateway`` and its password is shown once when it is
issued; the hub keeps only mosquitto's PBKDF2-SHA512 hash of it, so the broker's password file can
be written again at any time without the passwords. The ACL generated from this registry is what
makes a topic's school and gateway trustworthy (``hub.gateways.broker``); the hub checks them again.
"""

import base64
import hashlib
import secrets
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from contract.topics import ID_PATTERN
from hub.gateways.models import GatewayCredential

MOSQUITTO_ITERATIONS = 101  # mosquitto_passwd's own default for $7$ (PBKDF2-SHA512)


class RegistryError(ValueError):
    """A gateway name that is malformed, or already registered."""


def mosquitto_hash(password: str, salt: bytes | None = None) -> str:
    """A password as mosquitto 2's password file stores it: ``$7$iterations$salt$hash`` (base64)."""
    salt = salt or secrets.token_bytes(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, MOSQUITTO_ITERATIONS)
    return f"$7${MOSQUITTO_ITERATIONS}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def parse_name(name: str) -> tuple[str, str]:
    """``school/gateway`` as a pair, each part a contract id."""
    import re

    school, _, gateway = name.partition("/")
    if not (re.fullmatch(ID_PATTERN, school) and re.fullmatch(ID_PATTERN, gateway)):
        raise RegistryError(f"{name!r}: expected school/gateway, each 1-64 of A-Z a-z 0-9 _ . -")
    return school, gateway


def add(session: Session, name: str, now: datetime) -> tuple[GatewayCredential, str]:
    """Register a gateway; return it and its new password (shown once, never stored)."""
    school, gateway = parse_name(name)
    if session.get(GatewayCredential, (school, gateway)) is not None:
        raise RegistryError(f"{name} is already registered; use rotate for a new password")
    password = secrets.token_urlsafe(24)
    row = GatewayCredential(
        school_id=school, gateway_id=gateway, password_hash=mosquitto_hash(password), created_at=now
    )
    session.add(row)
    return row, password


def rotate(session: Session, name: str, now: datetime) -> str:
    """A new password for a registered gateway (the old one stops working at the next broker reload)."""
    school, gateway = parse_name(name)
    row = session.get(GatewayCredential, (school, gateway))
    if row is None:
        raise RegistryError(f"{name} is not registered")
    password = secrets.token_urlsafe(24)
    row.password_hash, row.rotated_at, row.revoked_at = mosquitto_hash(password), now, None
    return password


def revoke(session: Session, name: str, now: datetime) -> None:
    """Take a gateway off the broker (and the hub) for good; kept for the record."""
    school, gateway = parse_name(name)
    row = session.get(GatewayCredential, (school, gateway))
    if row is None:
        raise RegistryError(f"{name} is not registered")
    row.revoked_at = now


def active(session: Session) -> list[GatewayCredential]:
    """The gateways that may connect, in order."""
    query = select(GatewayCredential).where(GatewayCredential.revoked_at.is_(None))
    return list(session.scalars(query.order_by(GatewayCredential.school_id, GatewayCredential.gateway_id)))


def registered(session: Session) -> frozenset[tuple[str, str]]:
    """(school, gateway) of every gateway that may speak."""
    return frozenset((row.school_id, row.gateway_id) for row in active(session))
