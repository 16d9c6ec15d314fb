"""The agent's configuration file, parsed once into frozen models that reject unknown keys."""

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from agent.drivers.registry import spec_for_address, specs
from agent.errors import ConfigError, FileError
from agent.yamlfile import read_yaml, validate_file
from campusguard.mqtt import BrokerSettings, SecretMissing, read_secret
from contract.topics import ID_PATTERN

Id = Annotated[str, Field(pattern=f"^{ID_PATTERN}$")]


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class MqttSettings(BrokerSettings):
    """How the agent reaches the broker and its other nodes (``campusguard.mqtt.BrokerSettings``) and
    its client id."""

    client_id: str | None = None


class SpoolSettings(_Strict):
    """Where and how much the agent keeps until the hub acks."""

    path: Path = Path("campusguard-spool.db")
    max_events: int = Field(default=100_000, ge=100)
    ack_timeout_s: float = Field(default=10.0, gt=0, description="resend an unacked event after")
    window: int = Field(default=500, ge=1, le=10_000, description="events in flight at once")


class PollDefaults(_Strict):
    """Polling settings that devices inherit unless they set their own."""

    interval_s: float = Field(default=1.0, gt=0, le=3600)
    timeout_s: float = Field(default=0.5, gt=0, le=60)
    offline_after: int = Field(default=2, ge=1, le=100, description="failed polls before offline")
    max_backoff_s: float = Field(default=30.0, gt=0, le=3600)
    bus_phase: Literal["spread", "shared"] = Field(
        default="shared",
        description=(
            "shared: every bus device with one interval polls at one phase, back to back on its bus "
            "(about 0.7x the CPU of spread with many devices, see docs/benchmarks.md); spread: each "
            "device polls at a random phase of its own"
        ),
    )


class DeviceConfig(_Strict):
    """One device the agent polls."""

    id: Id
    profile: Annotated[str, Field(pattern=r"^[a-z_]+/[A-Za-z0-9_.-]+$")]
    address: str = Field(description="tcp://, rtu+tcp://, rtu:// (Modbus); onvif://, rtsp://, http:// (cameras)")
    unit_id: int = Field(default=1, ge=0, le=247)
    location: str = ""
    interval_s: float | None = Field(default=None, gt=0, le=3600)
    timeout_s: float | None = Field(default=None, gt=0, le=60)
    enabled: bool = True
    attributes: dict[str, str] = Field(default_factory=dict)
    cameras: list[Id] = Field(
        default_factory=list,
        max_length=8,
        description="cameras that see this device: a picture from each when it raises a security alarm",
    )
    username: str | None = Field(default=None, description="camera user")
    password_env: str | None = Field(default=None, description="camera password from this variable")
    password_file: Path | None = Field(default=None, description="camera password from this file")
    stream_url: str | None = Field(default=None, description="main stream, when not found by ONVIF")
    substream_url: str | None = Field(default=None, description="substream, checked instead of the main one")

    @field_validator("address")
    @classmethod
    def _address(cls, value: str) -> str:
        spec_for_address(value).check_address(value)  # the driver of its scheme says what is wrong
        return value

    @model_validator(mode="after")
    def _driver_fields(self) -> "DeviceConfig":
        spec = spec_for_address(self.address)
        for other in specs():
            for name in sorted((other.device_fields - spec.device_fields) & self.model_fields_set):
                raise ValueError(f"{name} is a setting of {other.name} devices, not of {spec.name} devices")
        return self

    def resolve_password(self) -> str | None:
        """The camera password from its variable or file; never logged."""
        try:
            return read_secret("password", self.password_env, self.password_file)
        except SecretMissing as exc:
            raise ConfigError(f"device {self.id}: {exc}") from None


class CameraDefaults(_Strict):
    """How camera checks share the gateway."""

    cpu_budget_cores: float = Field(default=1.0, gt=0, le=64, description="CPU the checks may use on average")
    workers: int | None = Field(default=None, ge=1, le=64, description="parallel checks; default from the budget")
    snapshot_dir: Path = Path("snapshots")
    snapshot_retention_h: float = Field(default=72.0, gt=0, le=24 * 365)


class MetricsSettings(_Strict):
    """The agent's Prometheus ``/metrics``: off unless a port is given."""

    port: int | None = Field(default=None, ge=0, le=65_535, description="serve /metrics here; 0: any free port")
    host: str = Field(default="127.0.0.1", min_length=1, max_length=255, description="bind address")


class AgentConfig(_Strict):
    """The whole agent configuration."""

    schema_version: Literal[1] = 1
    school_id: Id
    gateway_id: Id
    mqtt: MqttSettings = MqttSettings()
    spool: SpoolSettings = SpoolSettings()
    defaults: PollDefaults = PollDefaults()
    # 10 s: the hub's watchdog (3 snapshots: 30 s) then catches a frozen agent before the broker's
    # will does (1.5 x the 30 s keep-alive: 45 s); with 30 s the will always came first.
    snapshot_interval_s: float = Field(default=10.0, gt=0, le=3600)
    cameras: CameraDefaults = CameraDefaults()
    metrics: MetricsSettings = MetricsSettings()
    profile_dirs: list[Path] = Field(default_factory=list, description="searched before the bundled ones")
    devices: list[DeviceConfig] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_ids(self) -> "AgentConfig":
        seen: set[str] = set()
        for device in self.devices:
            if device.id in seen:
                raise ValueError(f"device id {device.id!r} is used twice")
            seen.add(device.id)
        for device in self.devices:
            for camera in device.cameras:
                if camera not in seen or camera == device.id:
                    raise ValueError(f"device {device.id}: cameras: {camera!r} is not another device of this agent")
        return self

    def interval(self, device: DeviceConfig) -> float:
        """The device's poll interval."""
        return device.interval_s or self.defaults.interval_s

    def timeout(self, device: DeviceConfig) -> float:
        """The device's per-request timeout."""
        return device.timeout_s or self.defaults.timeout_s


def load_agent_config(path: Path) -> AgentConfig:
    """Load the agent's YAML configuration; raise FileError naming file, line, field and reason."""
    data, lines = read_yaml(path, FileError)
    config = validate_file(path, AgentConfig, data, lines, FileError)
    base = path.parent
    dirs = [d if d.is_absolute() else base / d for d in config.profile_dirs]
    spool = config.spool.path if config.spool.path.is_absolute() else base / config.spool.path
    snaps = config.cameras.snapshot_dir
    cameras = config.cameras.model_copy(update={"snapshot_dir": snaps if snaps.is_absolute() else base / snaps})
    return config.model_copy(
        update={
            "profile_dirs": dirs,
            "spool": config.spool.model_copy(update={"path": spool}),
            "cameras": cameras,
        }
    )
