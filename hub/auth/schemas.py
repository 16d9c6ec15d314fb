"""Request and response schemas of the accounts API."""

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from hub.auth.roles import Role


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LoginIn(_In):
    """Credentials."""

    username: str = Field(min_length=1, max_length=200)
    password: str = Field(min_length=1, max_length=1_000)


class PasswordIn(_In):
    """Changing one's own password."""

    current_password: str = Field(min_length=1, max_length=1_000)
    new_password: str = Field(min_length=1, max_length=1_000)


class Permissions(BaseModel):
    """What the console may offer the caller (the API checks each request anyway)."""

    acknowledge: bool
    resolve: bool
    manage_users: bool
    read_dead_letters: bool = False


class MeOut(BaseModel):
    """The signed-in caller."""

    username: str
    display_name: str
    role: str
    schools: list[str]
    district: str | None
    csrf_token: str | None = Field(description="send as X-CSRF-Token on state changes (cookie sessions)")
    permissions: Permissions
    auth: str = Field(default="on", description="'off' when the hub runs without accounts")


class LoginOut(BaseModel):
    """A successful login."""

    user: MeOut
    csrf_token: str


class UserIn(_In):
    """A new account; without a password one is generated and returned once."""

    username: str = Field(min_length=1, max_length=64)
    role: Role
    schools: list[str] = Field(default_factory=list, max_length=1_000)
    district: str | None = Field(default=None, max_length=64)
    display_name: str = Field(default="", max_length=200)
    password: str | None = Field(default=None, max_length=1_000)


class UserPatch(_In):
    """Changes to an account."""

    disabled: bool | None = None
    password: str | None = Field(default=None, max_length=1_000)
    display_name: str | None = Field(default=None, max_length=200)


class UserOut(BaseModel):
    """An account (never its password hash)."""

    model_config = ConfigDict(from_attributes=True)
    username: str
    display_name: str
    role: str
    schools: list[str]
    district: str | None
    disabled: bool
    created_at: datetime


class UserCreated(BaseModel):
    """A created account, and its generated password when none was given (shown once)."""

    user: UserOut
    password: str | None


class TokenIn(_In):
    """A new API token."""

    name: str = Field(min_length=1, max_length=200)


class TokenOut(BaseModel):
    """An API token's metadata (the token itself is shown only when created)."""

    id: int
    name: str
    username: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class TokenCreated(TokenOut):
    """A new token: ``token`` is shown this once and stored only as a hash."""

    token: str


class AuditOut(BaseModel):
    """One audit row."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    at: datetime
    actor: str
    action: str
    target: str
    school_id: str | None
    client_ip: str | None
    outcome: str
    detail: dict[str, Any]
