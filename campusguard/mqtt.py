"""What the agent's and the hub's MQTT clients share: how to reach the broker (``BrokerSettings``,
which each side extends with its own session fields) and the TLS parameters of ``mqtts://``."""

import os
import ssl
from pathlib import Path
from typing import Annotated, Self
from urllib.parse import urlsplit

import aiomqtt
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr, field_validator

from contract.topics import DEFAULT_PREFIX


class SecretMissing(ValueError):
    """A password is to be read from a variable or a file that is not there."""


def read_secret(field: str, env: str | None, file: Path | None) -> str | None:
    """A password from the variable ``env`` or the file ``file`` (``field`` names them in errors);
    None when neither is set; SecretMissing when the one named is not there."""
    if env:
        value = os.environ.get(env)
        if value is None:
            raise SecretMissing(f"{field}_env: variable {env} is not set")
        return value
    if file:
        try:
            return file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise SecretMissing(f"{field}_file: {file}: {exc.strerror}") from None
    return None


def broker_url(url: str) -> str:
    """``url`` if it is ``mqtt://host[:port]`` or ``mqtts://host[:port]``; ValueError otherwise."""
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
        raise ValueError("must be mqtt://host[:port] or mqtts://host[:port]")
    return url


class BrokerSettings(BaseModel):
    """The broker's address, the credentials and TLS files, the topic prefix and the keep-alive.

    ``fallback_urls``: other nodes of the same broker cluster, tried in turn when the current one
    cannot be reached or drops the connection; credentials, TLS files and topics are the same.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    url: str = "mqtt://127.0.0.1:1883"
    username: str | None = None
    password: SecretStr | None = None
    password_env: str | None = Field(default=None, description="read the password from this variable")
    password_file: Path | None = Field(default=None, description="read the password from this file")
    ca_file: Path | None = Field(default=None, description="mqtts: the CA that signed the broker's certificate")
    cert_file: Path | None = Field(default=None, description="mqtts: a client certificate, if the broker asks")
    key_file: Path | None = None
    topic_prefix: str = DEFAULT_PREFIX
    keepalive_s: int = Field(default=30, ge=5, le=3600)
    fallback_urls: list[Annotated[str, AfterValidator(broker_url)]] = Field(default_factory=list, max_length=16)

    @field_validator("url")
    @classmethod
    def _url(cls, url: str) -> str:
        return broker_url(url)

    def nodes(self) -> list[Self]:
        """These settings once per broker URL (``url``, then ``fallback_urls``): the main one first."""
        return [self, *(self.model_copy(update={"url": url, "fallback_urls": []}) for url in self.fallback_urls)]

    @property
    def tls(self) -> bool:
        """Whether to connect with TLS."""
        return urlsplit(self.url).scheme == "mqtts"

    @property
    def host(self) -> str:
        """The broker's host."""
        return urlsplit(self.url).hostname or "127.0.0.1"

    @property
    def port(self) -> int:
        """The broker's port (1883, or 8883 with TLS, when not given)."""
        return urlsplit(self.url).port or (8883 if self.tls else 1883)

    def resolve_password(self) -> str | None:
        """The password from the settings, a variable or a secret file; SecretMissing if that is not there."""
        if self.password is not None:
            return self.password.get_secret_value()
        return read_secret("mqtt.password", self.password_env, self.password_file)

    def tls_parameters(self) -> aiomqtt.TLSParameters | None:
        """For ``mqtts://``: verify the broker against ``ca_file`` (or the system's CAs), present a client
        certificate if given. None for plain ``mqtt://``."""
        if not self.tls:
            return None
        return aiomqtt.TLSParameters(
            ca_certs=str(self.ca_file) if self.ca_file else None,
            certfile=str(self.cert_file) if self.cert_file else None,
            keyfile=str(self.key_file) if self.key_file else None,
            cert_reqs=ssl.CERT_REQUIRED,
        )


async def subscribe_all(client: aiomqtt.Client, topics: list[tuple[str, int]]) -> None:
    """Subscribe, and raise ``aiomqtt.MqttError`` when the broker refuses any filter (a SUBACK code
    of 0x80 or more): a client that went on would never receive what it subscribed to, and its
    caller reconnects instead. NATS refuses one while its cluster elects new leaders after a node's
    death (docs/scaling.md)."""
    granted = await client.subscribe(topics)
    codes = [code if isinstance(code, int) else code.value for code in granted]  # 3.1.1 ints, 5 reason codes
    refused = [topic for (topic, _), code in zip(topics, codes, strict=False) if code >= 0x80]
    if refused:
        raise aiomqtt.MqttError(f"the broker refused the subscription to {refused[0]}")
