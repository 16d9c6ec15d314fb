"""Device profiles: what a device model's registers mean, as validated data.

A profile is ``device_profiles/<kind>/<vendor>-<model>.yaml``. It maps registers to named points and
points to alarms. Points and alarms may be repeated (``repeat``) for multi-zone controllers: ``{n}``
in a name is replaced by 1..count, the address advances by ``stride``, and ``zone`` becomes n.
"""

import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel, model_validator

from agent.camera.vqd import Thresholds
from agent.errors import ConfigError, ProfileError
from agent.yamlfile import LocatedError, read_yaml, validate_file

KINDS = ("one_click_alarm", "fence", "access_gate", "camera")
Table = Literal["coil", "discrete_input", "holding_register", "input_register"]
PointType = Literal["bool", "uint16", "int16", "uint32", "int32", "float32"]
BIT_TABLES = ("coil", "discrete_input")
INTEGER_TYPES = ("uint16", "int16", "uint32", "int32")
WIDTH = {"bool": 1, "uint16": 1, "int16": 1, "uint32": 2, "int32": 2, "float32": 2}
NAME = r"^[a-z][a-z0-9_]*(\{n\}[a-z0-9_]*)?$"
Name = Annotated[str, Field(pattern=NAME, max_length=64)]


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Repeat(_Strict):
    """Repeat an entry for zones 1..count; ``{n}`` in names becomes the zone number."""

    count: int = Field(ge=1, le=256)
    stride: int = Field(default=1, ge=0, le=4096, description="address step between zones")


class Point(_Strict):
    """A named value read from the device."""

    name: Name
    table: Table
    address: int = Field(ge=0, le=65535)
    type: PointType = "bool"
    bit: int | None = Field(default=None, ge=0, le=15, description="bit of a register")
    scale: float = 1.0
    offset: float = 0.0
    unit: str = ""
    description: str = ""
    repeat: Repeat | None = None

    @property
    def width(self) -> int:
        """How many addresses of its table the point occupies."""
        return WIDTH[self.type]

    @model_validator(mode="after")
    def _consistent(self) -> "Point":
        if self.table in BIT_TABLES:
            if self.type != "bool":
                raise ValueError(f"a {self.table} holds one bit: type must be bool")
            if self.bit is not None:
                raise ValueError(f"bit applies to registers, not to a {self.table}")
        elif self.type == "bool" and self.bit is None:
            raise ValueError("a bool in a register needs bit (0-15)")
        elif self.type != "bool" and self.bit is not None:
            raise ValueError("bit applies only to type bool")
        if self.address + self.width - 1 > 65535:
            raise ValueError("the point runs past address 65535")
        if ("{n}" in self.name) != (self.repeat is not None):
            raise ValueError("use {n} in the name exactly when repeat is given")
        return self


class Condition(_Strict):
    """When an alarm's point is in alarm; bool points need none (true means alarm)."""

    equals: float | bool | None = None
    above: float | None = None
    below: float | None = None
    hysteresis: float = Field(default=0.0, ge=0, description="margin to clear an above/below alarm")

    @model_validator(mode="after")
    def _one_test(self) -> "Condition":
        given = [v for v in (self.equals, self.above, self.below) if v is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of equals, above, below")
        return self


class Latch(_Strict):
    """The device latches this alarm; it stays raised until the latch point reads false."""

    point: Name


class AlarmRule(_Strict):
    """How a point becomes an alarm."""

    type: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=48)]
    point: Name
    when: Condition | None = None
    severity: Literal["critical", "major", "minor", "info"] = "major"
    zone: int | None = Field(default=None, ge=0, le=9999)
    debounce_s: float = Field(default=0.0, ge=0, le=3600)
    latch: Latch | None = None
    only_when: Name | None = Field(default=None, description="evaluate only while this point is true")
    counter: Name | None = Field(
        default=None,
        description=(
            "an integer point the device counts activations in (a panic box's press counter): "
            "activations the agent did not see, between two polls or while it was down, become alarms"
        ),
    )
    repeat: Repeat | None = None
    description: str = ""


class ModbusSettings(_Strict):
    """How the device speaks Modbus."""

    word_order: Literal["big", "little"] = "big"
    max_gap: int = Field(default=8, ge=0, le=100, description="unused addresses read through")
    max_registers_per_read: int = Field(default=125, ge=1, le=125)
    max_bits_per_read: int = Field(default=2000, ge=1, le=2000)


class ModbusProfile(_Strict):
    """A Modbus device model: its kind, registers, points, alarms and metrics."""

    schema_version: Literal[1]
    kind: Literal["one_click_alarm", "fence", "access_gate"]
    vendor: Annotated[str, Field(min_length=1, max_length=64)]
    model: Annotated[str, Field(min_length=1, max_length=64)]
    description: str = ""
    driver: Literal["modbus"]
    modbus: ModbusSettings = ModbusSettings()
    points: list[Point] = Field(min_length=1)
    alarms: list[AlarmRule] = Field(default_factory=list)
    metrics: list[Name] = Field(default_factory=list, description="points sent in snapshots")

    @model_validator(mode="after")
    def _references(self) -> "ModbusProfile":
        expanded = expand_points(self.points)
        names: dict[str, int] = {}
        for index, point in expanded:
            if point.name in names:
                raise _located(("points", index, "name"), f"duplicate point {point.name!r}")
            names[point.name] = index
        _check_overlaps(expanded)
        points_by_name = {point.name: point for _, point in expanded}
        alarm_keys: set[tuple[str, int | None]] = set()
        for index, rule in enumerate(self.alarms):
            if rule.repeat is not None and "{n}" not in rule.point:
                raise _located(("alarms", index, "point"), "a repeated alarm needs {n} in its point name")
            if rule.repeat is not None and rule.zone is not None:
                raise _located(("alarms", index, "zone"), "a repeated alarm takes its zone from repeat")
        for index, rule in expand_alarms(self.alarms):
            key = (rule.type, rule.zone)
            if key in alarm_keys:
                zone = f" zone {rule.zone}" if rule.zone is not None else ""
                raise _located(("alarms", index, "type"), f"alarm {rule.type!r}{zone} is defined twice")
            alarm_keys.add(key)
            for field, name in (("latch", rule.latch and rule.latch.point), ("only_when", rule.only_when)):
                if name and name in points_by_name and points_by_name[name].type != "bool":
                    raise _located(("alarms", index, field), f"{name!r} must be a bool point")
            refs = (
                ("point", rule.point),
                ("latch", rule.latch and rule.latch.point),
                ("only_when", rule.only_when),
                ("counter", rule.counter),
            )
            for field, name in refs:
                if name and name not in names:
                    raise _located(("alarms", index, field), f"unknown point {name!r}")
            if rule.counter:
                counter = points_by_name[rule.counter]
                if counter.type not in INTEGER_TYPES or counter.scale != 1:
                    raise _located(("alarms", index, "counter"), f"{rule.counter!r} must be an unscaled integer point")
                if rule.debounce_s:
                    raise _located(("alarms", index, "counter"), "an alarm with a counter cannot be debounced")
            target = points_by_name.get(rule.point)
            if target and target.type != "bool" and rule.when is None:
                raise _located(("alarms", index, "when"), "a numeric point needs a condition")
        for index, name in enumerate(self.metrics):
            if name not in names:
                raise _located(("metrics", index), f"unknown point {name!r}")
        return self


def _located(loc: tuple[Any, ...], message: str) -> LocatedError:
    return LocatedError(loc, message)


def _expand_name(name: str, n: int) -> str:
    return name.replace("{n}", str(n))


def expand_points(points: list[Point]) -> list[tuple[int, Point]]:
    """Expand repeated points; each result keeps the index of the entry it came from."""
    out: list[tuple[int, Point]] = []
    for index, point in enumerate(points):
        if point.repeat is None:
            out.append((index, point))
            continue
        for n in range(1, point.repeat.count + 1):
            address = point.address + (n - 1) * point.repeat.stride
            if address + point.width - 1 > 65535:
                raise _located(("points", index, "repeat"), "repeated addresses run past 65535")
            update = {"name": _expand_name(point.name, n), "address": address, "repeat": None}
            out.append((index, point.model_copy(update=update)))
    return out


def expand_alarms(rules: list[AlarmRule]) -> list[tuple[int, AlarmRule]]:
    """Expand repeated alarm rules into one rule per zone."""
    out: list[tuple[int, AlarmRule]] = []
    for index, rule in enumerate(rules):
        if rule.repeat is None:
            out.append((index, rule))
            continue
        for n in range(1, rule.repeat.count + 1):
            latch = Latch(point=_expand_name(rule.latch.point, n)) if rule.latch else None
            only_when = _expand_name(rule.only_when, n) if rule.only_when else None
            counter = _expand_name(rule.counter, n) if rule.counter else None
            update = {
                "point": _expand_name(rule.point, n),
                "zone": n,
                "latch": latch,
                "only_when": only_when,
                "counter": counter,
                "repeat": None,
            }
            out.append((index, rule.model_copy(update=update)))
    return out


def _check_overlaps(points: list[tuple[int, Point]]) -> None:
    """Reject two points that claim the same address (bits of one register may share it)."""
    claimed: dict[tuple[str, int], tuple[str, int | None]] = {}
    for index, point in points:
        for address in range(point.address, point.address + point.width):
            key = (point.table, address)
            other = claimed.get(key)
            if other is not None:
                other_name, other_bit = other
                same_register_bits = other_bit is not None and point.bit is not None
                if not same_register_bits or other_bit == point.bit:
                    raise _located(
                        ("points", index, "address"),
                        f"{point.name!r} overlaps {other_name!r} at {point.table} {address}",
                    )
            claimed[key] = (point.name, point.bit)


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


class CameraSettings(_Strict):
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


class CameraProfile(_Strict):
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
                raise _located(("alarms", index, "repeat"), "camera alarms are not repeated")
            for field, name in (("point", rule.point), ("only_when", rule.only_when)):
                if name and name not in CAMERA_POINTS:
                    raise _located(("alarms", index, field), f"unknown camera point {name!r}")
            if CAMERA_POINTS.get(rule.point) in ("int", "float") and rule.when is None:
                raise _located(("alarms", index, "when"), "a numeric point needs a condition")
        for key, names in (("metrics", self.metrics), ("degraded_when", self.degraded_when)):
            for index, name in enumerate(names):
                if name not in CAMERA_POINTS:
                    raise _located((key, index), f"unknown camera point {name!r}")
        return self


Profile = Annotated[ModbusProfile | CameraProfile, Field(discriminator="driver")]


class ProfileFile(RootModel[Profile]):
    """A profile file: its ``driver`` decides which model validates it."""


class LoadedProfile:
    """A validated profile with its repeats expanded, ready for drivers and alarm tracking."""

    def __init__(self, ref: str, path: Path, profile: ModbusProfile | CameraProfile) -> None:
        self.ref = ref
        self.path = path
        self.profile = profile
        self.points = [p for _, p in expand_points(profile.points)] if isinstance(profile, ModbusProfile) else []
        self.alarms = [r for _, r in expand_alarms(profile.alarms)]
        self.by_name = {p.name: p for p in self.points}

    @property
    def modbus_profile(self) -> ModbusProfile:
        """The profile as a Modbus profile; ConfigError if it is not one."""
        if not isinstance(self.profile, ModbusProfile):
            raise ConfigError(f"profile {self.ref} is not a Modbus profile")
        return self.profile

    @property
    def camera_profile(self) -> CameraProfile:
        """The profile as a camera profile; ConfigError if it is not one."""
        if not isinstance(self.profile, CameraProfile):
            raise ConfigError(f"profile {self.ref} is not a camera profile")
        return self.profile

    @property
    def degraded_when(self) -> list[str]:
        """Points that make the device degraded while they are set."""
        return list(self.profile.degraded_when) if isinstance(self.profile, CameraProfile) else []

    @property
    def kind(self) -> str:
        """The device kind, e.g. ``fence``."""
        return self.profile.kind


def load_profile(path: Path, ref: str | None = None) -> LoadedProfile:
    """Load and validate one profile file; raise ProfileError with file, line, field and reason."""
    data, lines = read_yaml(path, ProfileError)
    profile = validate_file(path, ProfileFile, data, lines, ProfileError).root
    return LoadedProfile(ref or path.stem, path, profile)


_REF = re.compile(r"^[a-z_]+/[A-Za-z0-9_.-]+$")


def resolve(ref: str, search_dirs: list[Path]) -> Path:
    """Find the file of a profile reference like ``fence/generic-fence4``."""
    if not _REF.match(ref):
        raise ValueError(f"profile reference {ref!r} must look like kind/vendor-model")
    for directory in search_dirs:
        candidate = directory / f"{ref}.yaml"
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"profile {ref!r} not found in {', '.join(map(str, search_dirs))}")
