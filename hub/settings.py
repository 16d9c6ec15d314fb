"""The hub's configuration (``hub.yaml``), parsed once into frozen models that reject unknown keys."""

from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from campusguard.mqtt import BrokerSettings, SecretMissing
from hub.domain.rates import DEFAULT_TZ
from hub.forwarding.settings import ForwardingSettings  # alarm forwarding rules
from hub.notify.settings import NotificationSettings
from hub.timeseries.settings import TimeSeriesSettings


class SettingsError(ValueError):
    """The hub's configuration file cannot be used; the message names file, field and reason."""


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class MqttSettings(BrokerSettings):
    """How the hub reaches the broker (``campusguard.mqtt.BrokerSettings``), with persistent sessions so
    nothing is lost while it restarts."""

    client_id: str = Field(default="campusguard-hub", min_length=1, max_length=64)
    clean_session: bool = False
    share_group: str = Field(default="", pattern=r"^[A-Za-z0-9_-]*$", description="$share group; empty = none")
    protocol: Literal["5", "3.1.1"] = Field(
        default="5",
        description="MQTT 5 lets the hub bound what the broker sends it unacknowledged (receive_maximum); "
        "3.1.1 for a broker without MQTT 5",
    )
    receive_maximum: int = Field(
        default=100, ge=1, le=65_535, description="MQTT 5: messages the broker may send before the hub acks them"
    )

    @field_validator("protocol", mode="before")
    @classmethod
    def _protocol(cls, value: object) -> object:
        return str(value) if isinstance(value, int | float) else value  # YAML reads `protocol: 5` as a number


class GatewaySettings(_Strict):
    """Which gateways may speak (see docs/security.md)."""

    enrolment: Literal["registered", "open"] = Field(
        default="registered",
        description=(
            "registered: messages only from gateways in the registry (campusguard gateway add), and "
            "events only for devices in the gateway's birth; open: any gateway (a demo or lab broker "
            "without per-gateway credentials)"
        ),
    )
    refresh_s: float = Field(default=10, gt=0, le=3600, description="how often the registry is read again")


class DatabaseSettings(_Strict):
    """The relational store: SQLite (WAL) by default, PostgreSQL for many hubs."""

    url: str = "sqlite:///campusguard-hub.db"
    echo: bool = False

    @field_validator("url")
    @classmethod
    def _url(cls, url: str) -> str:
        if not url.startswith(("sqlite:///", "postgresql+psycopg://")):
            raise ValueError("use sqlite:///path or postgresql+psycopg://user@host:port/db")
        return url


class IngestSettings(_Strict):
    """How messages are batched into transactions."""

    batch_max: int = Field(default=2_000, ge=1, le=50_000)
    queue_max: int = Field(
        default=5_000,
        ge=100,
        le=1_000_000,
        description="messages decoded and waiting per lane; beyond it the MQTT reader waits and the broker "
        "keeps the backlog",
    )
    batch_budget_s: float = Field(
        default=0.05,
        gt=0,
        le=10,
        description="a batch stops taking telemetry after this long in the event loop, so a press queued "
        "meanwhile waits for at most about this and one commit",
    )
    stuck_after_s: float = Field(
        default=30, gt=0, le=3600, description="/healthz fails when queued messages wait this long for a commit"
    )


class LivenessSettings(_Strict):
    """When a silent gateway counts as offline, and how often sequence gaps may trigger a rebirth."""

    heartbeat_misses: float = Field(default=3, gt=1, le=100, description="snapshot intervals without a word")
    default_snapshot_interval_s: float = Field(default=10, gt=0, le=86_400)
    check_every_s: float = Field(default=0.5, gt=0, le=60)
    rebirth_min_interval_s: float = Field(default=30, ge=0)
    leader_check_s: float = Field(default=1.0, gt=0, le=60, description="sweep leader election (PostgreSQL)")


class ClusterSettings(_Strict):
    """Several hubs on one PostgreSQL behind a broker with no sticky sharing (docs/scaling.md)."""

    partitions: int = Field(
        default=0,
        ge=0,
        le=4096,
        description="0: off (one hub, or mqtt.share_group on a sticky broker); else every hub subscribes "
        "to every gateway and applies those whose partition it holds through a PostgreSQL advisory lock",
    )
    check_s: float = Field(default=1.0, gt=0, le=60, description="how often a hub checks and rebalances its partitions")
    last_seen_every_s: float = Field(
        default=5.0, gt=0, le=600, description="how often a hub writes its gateways' shared last-seen"
    )


class AlarmSettings(_Strict):
    """The alarm ledger's timers."""

    escalate_after_s: float = Field(default=300, gt=0, description="unacknowledged alarms escalate after")
    device_offline_alarm: bool = True
    mute_s: float = Field(default=300, gt=0, le=1800, description="a console's mute of a ringing alarm lasts this long")


def _on_off(value: object) -> object:
    """YAML 1.1 reads a bare ``on``/``off`` as a boolean: take it as the word."""
    if isinstance(value, bool):
        return "on" if value else "off"
    return value


class ApiSettings(_Strict):
    """Where the REST API listens, and how callers sign in (see docs/accounts.md)."""

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    trusted_proxies: tuple[Annotated[str, Field(max_length=100)], ...] = Field(
        default=(),
        description=(
            "addresses of reverse proxies whose X-Forwarded-For / X-Forwarded-Proto are believed "
            "(login rate limit, audit); none by default, so no caller can choose its address"
        ),
    )
    auth: Annotated[Literal["on", "off"], BeforeValidator(_on_off)] = Field(
        default="on", description="off: every caller is an anonymous operator with full access"
    )
    secure_cookies: Literal["auto"] | bool = Field(
        default="auto", description="auto: Secure cookies when the request came over https"
    )
    session_idle_s: float = Field(default=12 * 3600, gt=0, description="a session unused this long ends")
    session_max_s: float = Field(default=24 * 3600, gt=0, description="a session ends this long after login")
    login_window_s: float = Field(default=300, gt=0, description="failed logins are counted over this window")
    login_failures_per_user: int = Field(default=5, ge=1, description="then that username is locked out")
    login_failures_per_ip: int = Field(default=20, ge=1, description="then that client address is locked out")
    sse_buffer: int = Field(default=10_000, ge=10, description="changes replayed at most after Last-Event-ID")
    sse_keep_s: float = Field(default=86_400, gt=0, description="how long changes are kept for replay")


class DistrictEntry(_Strict):
    """A district (education bureau) in the directory."""

    id: str = Field(min_length=1, max_length=64)
    name: str = ""
    packs: tuple[str, ...] | None = None  # the rule packs its schools are judged by; None: compliance.packs


def _time_zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{name!r} is not a time zone (an IANA name such as Asia/Shanghai)") from None
    return name


TimeZoneName = Annotated[str, Field(min_length=1, max_length=64), AfterValidator(_time_zone)]


class SchoolEntry(_Strict):
    """A school in the directory: its name and district, which scope district accounts."""

    id: str = Field(min_length=1, max_length=64)
    name: str = ""
    district: str | None = Field(default=None, min_length=1, max_length=64)
    timezone: TimeZoneName | None = None  # where its days are cut; None: the hub's ``timezone``


class RuleOverride(_Strict):
    """A district's (or every school's) own value for a rule's parameter, with the reason recorded."""

    rule: str = Field(min_length=1, max_length=64)
    district: str | None = Field(default=None, min_length=1, max_length=64)  # None: every district
    params: dict[str, float | str] = Field(min_length=1)
    reason: str = Field(min_length=1, max_length=500)


class ComplianceSettings(_Strict):
    """School profiles and the rule packs they are judged by (docs/compliance.md).

    A school is judged by the packs its profile names, else its district's, else ``packs``.
    """

    profiles: Path | None = None  # a profiles YAML (schools: [...]); None: no profiles, no findings
    packs: tuple[str, ...] = ("national-baseline",)  # bundled pack names or YAML files
    overrides: tuple[RuleOverride, ...] = ()
    evaluate_every_s: float = Field(default=300.0, gt=0, le=86400)  # every school judged again, recorded
    settle_s: float = Field(default=2.0, ge=0, le=600)  # after a device change, before its school is judged


class HubSettings(_Strict):
    """The whole hub configuration."""

    schema_version: Literal[1] = 1
    mqtt: MqttSettings = MqttSettings()
    gateways: GatewaySettings = GatewaySettings()
    database: DatabaseSettings = DatabaseSettings()
    ingest: IngestSettings = IngestSettings()
    liveness: LivenessSettings = LivenessSettings()
    cluster: ClusterSettings = ClusterSettings()  # see docs/scaling.md
    alarms: AlarmSettings = AlarmSettings()
    api: ApiSettings = ApiSettings()
    forwarding: ForwardingSettings = ForwardingSettings()  # see docs/forwarding.md
    timeseries: TimeSeriesSettings = TimeSeriesSettings()  # see docs/timeseries.md
    compliance: ComplianceSettings = ComplianceSettings()  # see docs/compliance.md
    notifications: NotificationSettings = NotificationSettings()  # see docs/notifications.md
    schools: tuple[SchoolEntry, ...] = ()  # names and districts; scopes district accounts
    districts: tuple[DistrictEntry, ...] = ()
    timezone: TimeZoneName = DEFAULT_TZ  # days, months and reports are cut here (a school may have its own)

    def school_tz(self, school_id: str) -> ZoneInfo:
        """The time zone a school's days are cut in."""
        return self.school_zones.get(school_id) or ZoneInfo(self.timezone)

    @cached_property
    def school_zones(self) -> dict[str, ZoneInfo]:
        """The schools with a time zone of their own (looked up once: a city has thousands)."""
        return {s.id: ZoneInfo(s.timezone) for s in self.schools if s.timezone}

    @property
    def several_hubs(self) -> bool:
        """Whether this hub shares its database and its gateways with other hubs."""
        return bool(self.mqtt.share_group) or self.cluster.partitions > 0

    @model_validator(mode="after")
    def _cluster(self) -> "HubSettings":
        if self.cluster.partitions and self.mqtt.share_group:
            raise ValueError("cluster.partitions: not with mqtt.share_group (each hub must receive every gateway)")
        if self.cluster.partitions and not self.database.url.startswith("postgresql"):
            raise ValueError("cluster.partitions: needs a PostgreSQL database (the hubs hold partitions by its locks)")
        return self

    @model_validator(mode="after")
    def _directory(self) -> "HubSettings":
        for what, entries in (("schools", self.schools), ("districts", self.districts)):
            ids = [e.id for e in entries]
            if len(ids) != len(set(ids)):
                raise ValueError(f"{what}: duplicate id")
        known = {d.id for d in self.districts}
        for school in self.schools:
            if known and school.district is not None and school.district not in known:
                raise ValueError(f"schools: {school.id}: district {school.district!r} is not in districts")
        return self


def _field(loc: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in loc) or "(document)"


def load_settings(path: Path) -> HubSettings:
    """Load ``hub.yaml``; raise SettingsError naming the file, field and reason."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SettingsError(f"{path}: cannot read: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise SettingsError(f"{path}{where}: invalid YAML: {getattr(exc, 'problem', exc)}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise SettingsError(f"{path}: must be a mapping of fields")
    try:
        settings = HubSettings.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        msg = "unknown field" if first["type"] == "extra_forbidden" else first["msg"].removeprefix("Value error, ")
        raise SettingsError(f"{path}: {_field(tuple(first['loc']))}: {msg}") from None
    try:
        settings.mqtt.resolve_password()  # a secret named but not there stops start-up, saying which
    except SecretMissing as exc:
        raise SettingsError(f"{path}: {exc}") from None
    url = settings.database.url
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).is_absolute():
        db = path.parent / url.removeprefix("sqlite:///")
        settings = settings.model_copy(update={"database": DatabaseSettings(url=f"sqlite:///{db}")})
    return settings
