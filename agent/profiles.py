"""Device profiles: what a device model's registers mean, as validated data.

A profile is ``device_profiles/<kind>/<vendor>-<model>.yaml``. It maps registers to named points and
points to alarms. Points and alarms may be repeated (``repeat``) for multi-zone controllers: ``{n}``
in a name is replaced by 1..count, the address advances by ``stride``, and ``zone`` becomes n.
"""

import functools
import re
from pathlib import Path
from typing import Annotated, Any, Literal, Protocol, TypeVar, Union

from pydantic import BaseModel, ConfigDict, Field, RootModel, model_validator

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


T = TypeVar("T")


class Strict(BaseModel):
    """Frozen, and no field it does not know."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class Repeat(Strict):
    """Repeat an entry for zones 1..count; ``{n}`` in names becomes the zone number."""

    count: int = Field(ge=1, le=256)
    stride: int = Field(default=1, ge=0, le=4096, description="address step between zones")


class Point(Strict):
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


class Condition(Strict):
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


class Latch(Strict):
    """The device latches this alarm; it stays raised until the latch point reads false."""

    point: Name


class AlarmRule(Strict):
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


def located(loc: tuple[Any, ...], message: str) -> LocatedError:
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
                raise located(("points", index, "repeat"), "repeated addresses run past 65535")
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


def check_overlaps(points: list[tuple[int, Point]]) -> None:
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
                    raise located(
                        ("points", index, "address"),
                        f"{point.name!r} overlaps {other_name!r} at {point.table} {address}",
                    )
            claimed[key] = (point.name, point.bit)


class DeviceProfile(Protocol):
    """What every driver's profile model has (``agent.drivers.spec.DriverSpec.profile``)."""

    schema_version: int
    kind: str
    vendor: str
    model: str
    driver: str
    alarms: list[AlarmRule]
    metrics: list[str]


@functools.cache
def _file_model(models: tuple[type[BaseModel], ...]) -> type[RootModel[Any]]:
    """A profile file's model: its ``driver`` field picks which registered profile model validates it."""
    union: Any = models[0] if len(models) == 1 else Union[models]  # noqa: UP007 - built at run time
    return RootModel[Annotated[union, Field(discriminator="driver")]]


def profile_file_model() -> type[RootModel[Any]]:
    """The model of a profile file, from the drivers registered now."""
    from agent.drivers.registry import specs  # the registry imports the drivers' profile models

    return _file_model(tuple(spec.profile for spec in specs()))


class LoadedProfile:
    """A validated profile with its repeats expanded, ready for drivers and alarm tracking."""

    def __init__(self, ref: str, path: Path, profile: Any) -> None:
        self.ref = ref
        self.path = path
        self.profile: DeviceProfile = profile
        points: list[Point] = getattr(profile, "points", [])  # register points: Modbus-like drivers
        self.points = [p for _, p in expand_points(points)]
        self.alarms = [r for _, r in expand_alarms(profile.alarms)]
        self.by_name = {p.name: p for p in self.points}

    def as_type(self, model: type[T]) -> T:
        """The profile as a driver's own model; ConfigError if it is another driver's."""
        if not isinstance(self.profile, model):
            raise ConfigError(f"profile {self.ref} is a {self.profile.driver} profile, not a {model.__name__}")
        return self.profile

    @property
    def degraded_when(self) -> list[str]:
        """Points that make the device degraded while they are set."""
        return list(getattr(self.profile, "degraded_when", []))

    @property
    def kind(self) -> str:
        """The device kind, e.g. ``fence``."""
        return self.profile.kind


def load_profile(path: Path, ref: str | None = None) -> LoadedProfile:
    """Load and validate one profile file; raise ProfileError with file, line, field and reason."""
    data, lines = read_yaml(path, ProfileError)
    profile = validate_file(path, profile_file_model(), data, lines, ProfileError).root
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
