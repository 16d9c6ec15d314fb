"""Password hashing with argon2id (argon2-cffi's defaults: RFC 9106's low-memory profile, 64 MiB, t=3)."""

import functools
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_HASHER = PasswordHasher()
MIN_LENGTH = 10
MAX_LENGTH = 1_000


class PasswordRejected(ValueError):
    """A new password that is too short or too long."""


def hash_password(password: str) -> str:
    """An argon2id hash of a password that meets the length rules."""
    check_strength(password)
    return _HASHER.hash(password)


def check_strength(password: str) -> None:
    """Raise PasswordRejected unless ``MIN_LENGTH <= len(password) <= MAX_LENGTH``."""
    if not MIN_LENGTH <= len(password) <= MAX_LENGTH:
        raise PasswordRejected(f"a password needs {MIN_LENGTH} to {MAX_LENGTH} characters")


@functools.cache
def _dummy_hash() -> str:
    """Verified when the username is unknown, so a wrong username costs as long as a wrong password."""
    return _HASHER.hash(secrets.token_urlsafe(16))


def verify_password(stored_hash: str | None, password: str) -> bool:
    """Whether the password matches; with no stored hash, spend the same time and answer False."""
    if len(password) > MAX_LENGTH:
        return False
    try:
        return _HASHER.verify(stored_hash or _dummy_hash(), password) and stored_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    """Whether the hash was made with weaker parameters than today's (rehash at the next login)."""
    return _HASHER.check_needs_rehash(stored_hash)


def generate_password() -> str:
    """A random password for a new account: 16 URL-safe characters (96 bits)."""
    return secrets.token_urlsafe(12)
