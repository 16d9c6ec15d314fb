"""The simulator's configuration: servers (a TCP endpoint or RTU-over-TCP converter) and devices."""

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from agent.errors import FileError
from agent.yamlfile import read_yaml, validate_file
from contract.topics import ID_PATTERN


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SimDeviceConfig(_Strict):
    """One simulated device behind a server."""

    id: Annotated[str, Field(pattern=f"^{ID_PATTERN}$")]
    profile: str
    unit_id: int = Field(default=1, ge=1, le=247)


class SimServerConfig(_Strict):
    """One listening endpoint; several devices behind it share it like an RS-485 bus."""

    id: Annotated[str, Field(pattern=f"^{ID_PATTERN}$")]
    framer: Literal["tcp", "rtu+tcp"] = "tcp"
    host: str = "127.0.0.1"
    port: int = Field(default=0, ge=0, le=65535, description="0 picks a free port")
    devices: list[SimDeviceConfig] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_units(self) -> "SimServerConfig":
        units = [d.unit_id for d in self.devices]
        if len(units) != len(set(units)):
            raise ValueError(f"server {self.id}: unit ids must be unique")
        return self


class SimCameraConfig(_Strict):
    """One fake camera: MJPEG over HTTP, optionally an ONVIF device on the same port."""

    id: Annotated[str, Field(pattern=f"^{ID_PATTERN}$")]
    port: int = Field(default=0, ge=0, le=65535, description="0 picks a free port")
    onvif: bool = True
    username: str | None = "admin"
    password: str | None = "admin123"  # noqa: S105 - a simulated camera's default
    fps: float = Field(default=10.0, gt=0, le=60)
    width: int = Field(default=640, ge=64, le=3840)
    height: int = Field(default=360, ge=64, le=2160)
    seed: int = 7
    fault: str | None = Field(default=None, description="a fault from the start (see simulator.scene.FAULTS)")


class SimConfig(_Strict):
    """The whole simulator."""

    control_host: str = "127.0.0.1"
    control_port: int = Field(default=0, ge=0, le=65535)
    profile_dirs: list[Path] = Field(default_factory=list)
    servers: list[SimServerConfig] = Field(default_factory=list)
    cameras: list[SimCameraConfig] = Field(default_factory=list)

    @model_validator(mode="after")
    def _something(self) -> "SimConfig":
        if not self.servers and not self.cameras:
            raise ValueError("give at least one server or camera")
        return self


def load_sim_config(path: Path) -> SimConfig:
    """Load a simulator configuration file."""
    data, lines = read_yaml(path, FileError)
    return validate_file(path, SimConfig, data, lines, FileError)
