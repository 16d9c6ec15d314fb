"""The profile of a camera model: how it is checked, which results raise alarms, which are metrics."""

from typing import Annotated, Literal

from pydantic import Field, model_validator

from agent.camera.vqd import Thresholds
from agent.profiles import AlarmRule, Name, Strict, located

# The values a camera check produces; camera alarms and metrics refer to these names.
CAMERA_POINTS: dict[str, str] = {
    "reachable": "bool",
    "blind": "str",  # a blind fault class (no_signal, black, covered, frozen, moved, ...) or ""
    "image_fault": "str",  # an image-quality fault class (blur, color_cast, noise, ...) or ""
    "fps": "float",
    "bitrate_kbps": "float",
    "width": "int",
    "height": "int",
    "open_ms": "float",
    "check_cpu_ms": "float",
    "clock_drift_s": "float",
    "main_width": "int",
    "main_height": "int",
    "main_fps": "float",
    "resolution_low": "bool",
    "retention_days": "float",
    "tamper": "bool",
    "motion": "bool",
    "signal_loss": "bool",
    "image_checks_skipped": "int",
    "y_mean": "float",
    "sharpness": "float",
    "noise_sigma": "float",
    "ncc_ref": "float",
}


class CameraSettings(Strict):
    """How a camera model is checked; every value can be tuned per model."""

    onvif: bool = Field(default=True, description="probe ONVIF for identity, clock, streams and events")
    transport: Literal["tcp", "udp"] = "tcp"
    use_substream: bool = Field(default=True, description="check the second ONVIF profile (cheaper)")
    liveness_s: float = Field(default=1.0, gt=0, le=30, description="packets counted without decoding")
    image_every: int = Field(default=1, ge=1, le=1000, description="an image check every N checks")
    frames: int = Field(default=10, ge=2, le=250, description="frames decoded per image check")
    onvif_every: int = Field(default=10, ge=1, le=10_000, description="full ONVIF probe every N checks")
    open_timeout_s: float = Field(default=3.0, gt=0, le=60)
    read_timeout_s: float = Field(default=3.0, gt=0, le=60)
    deadline_s: float = Field(default=10.0, gt=0, le=120, description="wall clock for one whole check")
    persistence: int = Field(default=3, ge=1, le=100, description="bad checks in a row before a fault")
    clear_after: int = Field(default=2, ge=1, le=100, description="good checks in a row to clear it")
    min_resolution: tuple[int, int] = Field(default=(1280, 720), description="main stream floor")
    thresholds: Thresholds = Thresholds()


class CameraProfile(Strict):
    """A camera model: how to check it, which results raise alarms, which are metrics."""

    schema_version: Literal[1]
    kind: Literal["camera"]
    vendor: Annotated[str, Field(min_length=1, max_length=64)]
    model: Annotated[str, Field(min_length=1, max_length=64)]
    description: str = ""
    driver: Literal["camera"]
    camera: CameraSettings = CameraSettings()
    alarms: list[AlarmRule] = Field(default_factory=list)
    metrics: list[Name] = Field(default_factory=list)
    degraded_when: list[Name] = Field(default_factory=list, description="points that mean degraded while set")

    @model_validator(mode="after")
    def _references(self) -> "CameraProfile":
        for index, rule in enumerate(self.alarms):
            if rule.repeat is not None:
                raise located(("alarms", index, "repeat"), "camera alarms are not repeated")
            for field, name in (("point", rule.point), ("only_when", rule.only_when)):
                if name and name not in CAMERA_POINTS:
                    raise located(("alarms", index, field), f"unknown camera point {name!r}")
            if CAMERA_POINTS.get(rule.point) in ("int", "float") and rule.when is None:
                raise located(("alarms", index, "when"), "a numeric point needs a condition")
        for key, names in (("metrics", self.metrics), ("degraded_when", self.degraded_when)):
            for index, name in enumerate(names):
                if name not in CAMERA_POINTS:
                    raise located((key, index), f"unknown camera point {name!r}")
        return self
