"""Forwarding rules (``forwarding:`` in hub.yaml): receivers, routes from schools to receivers, accounts.

```yaml
forwarding:
  receivers:
    arc-1: {type: dc09, host: 10.0.0.5, port: 12000, key: "...", format: adm-cid}
    arc-2: {type: dc09, host: 10.0.0.6, port: 12000}
    edu:   {type: webhook, url: https://edu.example/alarms, secret_env: EDU_HOOK_SECRET}
  routes:
    - {name: police, schools: ["*"], kinds: [intrusion, door_forced], primary: arc-1, backup: arc-2}
  schools:
    school-a: {account: "1234", areas: {panic-1: 2}}
```
Panic alarms always take every route that covers their school, whatever ``kinds`` says.
"""

import os
import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from hub.forwarding.codes import CODES

ALWAYS_FORWARDED = frozenset({"panic"})


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RetrySettings(_Strict):
    """Backoff between rounds of attempts on one outbox row; an alarm is never given up."""

    initial_s: float = Field(default=0.5, gt=0)
    max_s: float = Field(default=30.0, gt=0)
    attempts_per_receiver: int = Field(default=2, ge=1, le=20, description="before failing over")
    failback_after_s: float = Field(default=60.0, ge=0, description="then try the primary again first")


class Dc09Receiver(_Strict):
    """An alarm receiving centre speaking SIA DC-09 over TCP."""

    type: Literal["dc09"] = "dc09"
    host: str
    port: int = Field(ge=1, le=65535)
    receiver: str = Field(default="0", pattern=r"^[0-9A-F]{1,6}$", description="R field (hex)")
    line: str = Field(default="0", pattern=r"^[0-9A-F]{1,6}$", description="L field, line/account prefix (hex)")
    account: str = Field(default="0000", pattern=r"^[0-9A-F]{3,16}$", description="the hub's own, for NULL")
    format: Literal["adm-cid", "sia-dcs"] = "adm-cid"
    key: SecretStr | None = Field(default=None, description="AES key: 16/24/32 bytes (ascii) or 32/48/64 hex digits")
    key_env: str | None = None
    key_encoding: Literal["ascii", "hex"] = "ascii"
    null_interval_s: float = Field(default=60.0, gt=0, description="NULL supervision when idle")
    ack_timeout_s: float = Field(default=5.0, gt=0)
    connect_timeout_s: float = Field(default=3.0, gt=0)
    trouble_after_failures: int = Field(default=2, ge=1, description="failed exchanges in a row → trouble alarm")

    def key_bytes(self) -> bytes | None:
        """The AES key as bytes, or None for plain messages."""
        raw = self.key.get_secret_value() if self.key else (os.environ.get(self.key_env) if self.key_env else None)
        if not raw:
            return None
        key = bytes.fromhex(raw) if self.key_encoding == "hex" else raw.encode("ascii")
        if len(key) not in (16, 24, 32):
            raise ValueError(f"AES key must be 16, 24 or 32 bytes, got {len(key)}")
        return key

    @model_validator(mode="after")
    def _key_valid(self) -> "Dc09Receiver":
        if self.key is not None:
            try:
                self.key_bytes()
            except ValueError as exc:  # also bad hex
                raise ValueError(f"key: {exc}") from None
        return self


class WebhookReceiver(_Strict):
    """A police or education platform taking signed JSON over HTTPS."""

    type: Literal["webhook"] = "webhook"
    url: str
    secret: SecretStr | None = None
    secret_env: str | None = None
    timeout_s: float = Field(default=5.0, gt=0)
    verify_tls: bool | str = Field(default=True, description="False, True, or a CA bundle path")

    @field_validator("url")
    @classmethod
    def _url(cls, url: str) -> str:
        if not re.match(r"^https?://", url):
            raise ValueError("must be an http(s):// URL")
        return url

    def secret_bytes(self) -> bytes:
        """The HMAC key."""
        raw = self.secret.get_secret_value() if self.secret else os.environ.get(self.secret_env or "", "")
        if not raw:
            raise ValueError("webhook has no secret (secret or secret_env)")
        return raw.encode("utf-8")


Receiver = Annotated[Dc09Receiver | WebhookReceiver, Field(discriminator="type")]


class Route(_Strict):
    """Which alarm kinds from which schools go to a primary and a backup receiver."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    schools: list[str] = Field(default_factory=lambda: ["*"], min_length=1)
    kinds: list[str] = Field(default_factory=list, description="besides panic, which always goes")
    restores: bool = Field(default=False, description="also forward a cleared/reset condition (qualifier 3)")
    primary: str
    backup: str | None = None

    @field_validator("kinds")
    @classmethod
    def _kinds_known(cls, kinds: list[str]) -> list[str]:
        unknown = sorted(set(kinds) - set(CODES))
        if unknown:
            raise ValueError(f"no event code for kinds {unknown}; known: {sorted(CODES)}")
        return kinds

    def covers(self, school_id: str, kind: str) -> bool:
        """Whether an alarm of this kind from this school takes the route."""
        school_ok = "*" in self.schools or school_id in self.schools
        return school_ok and (kind in ALWAYS_FORWARDED or kind in self.kinds)

    @property
    def receivers(self) -> list[str]:
        """Primary, then backup."""
        return [self.primary] + ([self.backup] if self.backup else [])


class SchoolAccount(_Strict):
    """A school as the receiving centre knows it: its account and its areas (partitions)."""

    account: str = Field(pattern=r"^[0-9A-F]{3,16}$")
    area: int = Field(default=1, ge=0, le=99, description="default partition")
    areas: dict[str, int] = Field(default_factory=dict, description="device id → partition")
    zones: dict[Annotated[str, Field(max_length=80)], Annotated[int, Field(ge=1, le=999)]] = Field(
        default_factory=dict,
        description="'device' or 'device:zone' (a fence zone, a door) → the zone the receiver sees",
    )


class WorkerSettings(_Strict):
    """How the outbox worker claims rows."""

    poll_s: float = Field(default=1.0, gt=0, description="look for rows at least this often")
    lease_s: float = Field(default=30.0, gt=0, description="a claim expires after this (a crashed hub)")


class ForwardingSettings(_Strict):
    """The whole forwarding configuration; no routes means nothing is forwarded."""

    receivers: dict[str, Receiver] = Field(default_factory=dict)
    routes: list[Route] = Field(default_factory=list)
    schools: dict[str, SchoolAccount] = Field(default_factory=dict)
    retry: RetrySettings = RetrySettings()
    worker: WorkerSettings = WorkerSettings()

    @model_validator(mode="after")
    def _routes_resolve(self) -> "ForwardingSettings":
        names = [r.name for r in self.routes]
        if len(names) != len(set(names)):
            raise ValueError("route names must be unique")
        for route in self.routes:
            for name in route.receivers:
                if name not in self.receivers:
                    raise ValueError(f"route {route.name}: no receiver {name!r}")
        return self

    @property
    def enabled(self) -> bool:
        """Whether anything is forwarded."""
        return bool(self.routes)

    def routes_for(self, school_id: str, kind: str) -> list[Route]:
        """The routes an alarm takes."""
        return [r for r in self.routes if r.covers(school_id, kind)]
