"""``notifications`` in hub.yaml: channels (WeCom and DingTalk group robots, e-mail, SMS) and rules."""

from pathlib import Path
from typing import Literal

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, SecretStr, model_validator

from campusguard.mqtt import read_secret


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Channel(_Strict):
    """Where a notification goes.

    - ``wecom``: a 企业微信 group robot, ``url`` its webhook (…/cgi-bin/webhook/send?key=…).
    - ``dingtalk``: a 钉钉 group robot, ``url`` its webhook (…/robot/send?access_token=…), and the
      robot's signing ``secret`` (加签) if it has one.
    - ``email``: SMTP ``host``/``port`` (STARTTLS when ``starttls``), ``sender``, ``to``.
    - ``sms``: an SMS gateway over HTTP (``url``, optional bearer ``secret``) taking
      ``{"phones": [...], "text": "..."}``: the provider interface a vendor's SMS API plugs into.
    """

    type: Literal["wecom", "dingtalk", "email", "sms"]
    url: AnyHttpUrl | None = None
    secret: SecretStr | None = None
    secret_file: Path | None = None
    host: str | None = Field(default=None, max_length=255)
    port: int = Field(default=25, ge=1, le=65_535)
    starttls: bool = False
    username: str | None = Field(default=None, max_length=255)
    sender: str | None = Field(default=None, max_length=255)
    to: tuple[str, ...] = ()  # e-mail addresses, or phone numbers for sms
    timeout_s: float = Field(default=10, gt=0, le=120)

    @model_validator(mode="after")
    def _complete(self) -> "Channel":
        if self.type in ("wecom", "dingtalk", "sms") and self.url is None:
            raise ValueError(f"a {self.type} channel needs url")
        if self.type == "email" and not (self.host and self.sender and self.to):
            raise ValueError("an email channel needs host, sender and to")
        if self.type == "sms" and not self.to:
            raise ValueError("an sms channel needs to (phone numbers)")
        return self

    def secret_value(self) -> str | None:
        """The signing secret, SMTP password or bearer token (SecretMissing when its file is not there)."""
        return self.secret.get_secret_value() if self.secret else read_secret("secret", None, self.secret_file)


class NotifyRule(_Strict):
    """Who hears of which alarms, from which escalation level (0: as soon as it is raised)."""

    name: str = Field(min_length=1, max_length=64)
    channels: tuple[str, ...] = Field(min_length=1)
    level: int = Field(default=0, ge=0, le=20, description="0 when raised, n when escalated n times")
    kinds: tuple[str, ...] | None = None  # None: every kind
    schools: tuple[str, ...] | None = None  # None: every school
    quiet_hours: str | None = Field(default=None, pattern=r"^\d{2}:\d{2}-\d{2}:\d{2}$")  # "22:00-07:00", local


class NotificationSettings(_Strict):
    """No rules: no notifications."""

    channels: dict[str, Channel] = Field(default_factory=dict)
    rules: tuple[NotifyRule, ...] = ()
    attempts: int = Field(default=3, ge=1, le=10, description="tries per notification before it is recorded failed")
    console_url: str | None = Field(default=None, max_length=500, description="links to an alarm's page in messages")

    @model_validator(mode="after")
    def _resolve(self) -> "NotificationSettings":
        for rule in self.rules:
            unknown = [c for c in rule.channels if c not in self.channels]
            if unknown:
                raise ValueError(f"rule {rule.name!r}: no channel {unknown[0]!r}")
        return self
