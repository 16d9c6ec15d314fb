"""Message models of the contract and their JSON codec.

Versions: every message carries ``schema_version`` "MAJOR.MINOR". A reader accepts any minor of its
own major. A newer minor may only add optional fields; a reader of an older minor drops the fields
it does not know. Anything else (another major, a missing version) is ``UnsupportedVersion``.
Within a reader's own minor, unknown fields are errors, so typos never pass silently.
"""

import json
import os
import time
import types
import typing
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, TypeVar, Union

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, model_validator

from contract.errors import InvalidPayload, PayloadTooLarge, UnsupportedVersion
from contract.topics import ID_PATTERN, MessageType

SCHEMA_MAJOR = 1
SCHEMA_MINOR = 3  # 1.1: Event.image_id, Command "image", the image message; 1.2: Event.detected, bounds,
# SpoolStats.write_errors and .error, Presence.reason; 1.3: Command.capture (a camera's picture now)
SCHEMA_VERSION = f"{SCHEMA_MAJOR}.{SCHEMA_MINOR}"
MAX_PAYLOAD_BYTES = 1_048_576
MAX_ACK_IDS = 5_000

MAX_SEQ = 2**63 - 1  # a signed 64-bit column on every database
MAX_INTERVAL_S = 86_400.0
YEARS = (2000, 2200)  # a device clock outside these is broken; the hub keeps its own time anyway

Availability = Literal["unknown", "online", "degraded", "offline"]
Severity = Literal["critical", "major", "minor", "info"]
DeviceId = Annotated[str, Field(pattern=f"^{ID_PATTERN}$")]
ShortText = Annotated[str, Field(max_length=200)]
Seq = Annotated[int, Field(ge=0, le=MAX_SEQ)]
MetricValue = (
    Annotated[float, Field(allow_inf_nan=False)]
    | Annotated[int, Field(ge=-MAX_SEQ - 1, le=MAX_SEQ)]
    | bool
    | ShortText
    | None
)
Interval = Annotated[float, Field(gt=0, le=MAX_INTERVAL_S, allow_inf_nan=False)]


def _sane_time(value: datetime) -> datetime:
    """A timestamp that converts to UTC and lies in a plausible range (years 2000-2200)."""
    try:
        utc = value.astimezone(UTC)
    except (OverflowError, ValueError):
        raise ValueError("timestamp out of range") from None
    if not YEARS[0] <= utc.year <= YEARS[1]:
        raise ValueError(f"timestamp year {utc.year} outside {YEARS[0]}-{YEARS[1]}")
    return value


Timestamp = Annotated[AwareDatetime, AfterValidator(_sane_time)]
ImageId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,100}$")]


def utc_now() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def new_event_id() -> str:
    """A UUIDv7 string: unique, and sortable by creation time."""
    unix_ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (unix_ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76  # version 7
    value |= ((rand >> 62) & 0xFFF) << 64  # rand_a, 12 bits
    value |= 0b10 << 62  # RFC 4122 variant
    value |= rand & ((1 << 62) - 1)  # rand_b, 62 bits
    return str(uuid.UUID(int=value))


class _Message(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    schema_version: str = SCHEMA_VERSION


class Presence(_Message):
    """Whether a gateway's agent is connected; retained, and the agent's last will."""

    state: Literal["online", "stopped", "offline"]
    ts: Timestamp
    agent_version: ShortText | None = None
    reason: ShortText | None = Field(default=None, description="1.2: why an agent stopped (a fatal error)")


class DeviceInfo(BaseModel):
    """One device in a birth message."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    id: DeviceId
    kind: ShortText
    profile: ShortText
    vendor: ShortText = ""
    model: ShortText = ""
    location: ShortText = ""
    interval_s: Interval
    attributes: dict[ShortText, ShortText] = Field(default_factory=dict)


class Birth(_Message):
    """A gateway's inventory; sent on connect, on change and on a rebirth command; retained."""

    ts: Timestamp
    seq: Seq = Field(description="the last event seq assigned when the birth was made")
    devices: list[DeviceInfo] = Field(max_length=5_000)
    agent_version: ShortText | None = None


class DeviceStatus(BaseModel):
    """One device's state in a snapshot."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    device_id: DeviceId
    availability: Availability
    reason: ShortText | None = None
    since: Timestamp
    metrics: dict[ShortText, MetricValue] = Field(default_factory=dict)
    active_alarms: list[ShortText] = Field(default_factory=list, max_length=1_000)


class SpoolStats(BaseModel):
    """What the agent's spool holds and has had to drop."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    pending_events: Seq
    pending_alarms: Seq
    dropped_telemetry: Seq
    write_errors: Seq = Field(default=0, description="1.2: spool writes that failed since the agent started")
    error: ShortText | None = Field(default=None, description="1.2: the last write failure, until one succeeds")


class Snapshot(_Message):
    """Every device's availability, reason and key metrics; periodic, the hub's heartbeat."""

    ts: Timestamp
    seq: Seq = Field(description="the last event seq assigned")
    interval_s: Interval = Field(description="when the next snapshot is due")
    devices: list[DeviceStatus] = Field(max_length=5_000)
    spool: SpoolStats | None = None


EventType = Literal["alarm.raised", "alarm.cleared", "alarm.reset", "availability.changed"]


class Event(_Message):
    """A change worth keeping: an alarm raised, cleared or reset, or an availability change."""

    event_id: Annotated[str, Field(min_length=8, max_length=64)]
    seq: Annotated[int, Field(ge=1, le=MAX_SEQ)]
    device_id: DeviceId
    ts: Timestamp
    type: EventType
    alarm_type: ShortText | None = None
    zone: int | None = Field(default=None, ge=0, le=9_999)
    severity: Severity | None = None
    latched: bool = False
    value: MetricValue = None
    availability: Availability | None = None
    previous: Availability | None = None
    reason: ShortText | None = None
    image_id: ImageId | None = Field(
        default=None, description="a camera snapshot kept on the gateway; fetch it with the image command"
    )
    detected: Literal["restart", "counter"] | None = Field(
        default=None,
        description=(
            "how a change no poll saw was found: restart (it happened while the agent was down), "
            "counter (the device counted an activation between two polls); absent when seen live"
        ),
    )

    @property
    def is_alarm(self) -> bool:
        """Whether this is an alarm event (kept and replayed first)."""
        return self.type.startswith("alarm.")

    @model_validator(mode="after")
    def _fields_match_type(self) -> "Event":
        if self.is_alarm and not self.alarm_type:
            raise ValueError(f"{self.type} needs alarm_type")
        if self.type == "availability.changed" and self.availability is None:
            raise ValueError("availability.changed needs availability")
        return self


class Ack(_Message):
    """The hub has durably stored these events; the agent may forget them."""

    ts: Timestamp
    event_ids: list[Annotated[str, Field(max_length=64)]] = Field(max_length=MAX_ACK_IDS)


class Command(_Message):
    """A request from the hub to an agent."""

    command_id: Annotated[str, Field(max_length=64)]
    ts: Timestamp
    name: Literal["rebirth", "probe", "image"]
    device_id: DeviceId | None = None
    image_id: ImageId | None = None
    capture: bool | None = Field(
        default=None,
        description="1.3, with image: take the picture from camera device_id now and keep it as image_id",
    )

    @model_validator(mode="after")
    def _image_needs_id(self) -> "Command":
        if self.name == "image" and not self.image_id:
            raise ValueError("the image command needs image_id")
        if self.capture and (self.name != "image" or not self.device_id):
            raise ValueError("capture is an image command with device_id (the camera)")
        return self


class Image(_Message):
    """A camera snapshot (JPEG, base64) kept on the gateway, sent when the hub asks for it."""

    ts: Timestamp
    image_id: ImageId
    device_id: DeviceId | None = None
    taken: Timestamp | None = None
    content_type: Literal["image/jpeg"] = "image/jpeg"
    data_b64: Annotated[str, Field(max_length=1_000_000)] | None = Field(
        default=None, description="absent when the image is no longer kept"
    )


Message = Presence | Birth | Snapshot | Event | Ack | Command | Image
M = TypeVar("M", bound=_Message)

MODELS: dict[MessageType, type[_Message]] = {
    MessageType.PRESENCE: Presence,
    MessageType.BIRTH: Birth,
    MessageType.STATUS: Snapshot,
    MessageType.EVENT: Event,
    MessageType.ACK: Ack,
    MessageType.COMMAND: Command,
    MessageType.IMAGE: Image,
}


def encode(message: _Message) -> bytes:
    """Serialize a message to compact JSON bytes."""
    return message.model_dump_json(exclude_none=True).encode()


def _no_constant(name: str) -> None:
    """JSON has no NaN or Infinity; Python's json module accepts them unless told not to."""
    raise ValueError(f"{name} is not JSON")


def _check_version(raw: object) -> bool:
    """Return True when the payload is of a newer minor than ours; raise when unreadable."""
    if not isinstance(raw, str):
        raise UnsupportedVersion("schema_version is missing or not a string")
    major, _, minor = raw.partition(".")
    if not (major.isdigit() and minor.isdigit()):
        raise UnsupportedVersion(f"schema_version {raw[:20]!r} is not MAJOR.MINOR")
    if int(major) != SCHEMA_MAJOR:
        raise UnsupportedVersion(f"schema_version {raw[:20]} has major {major}, we read {SCHEMA_MAJOR}")
    return int(minor) > SCHEMA_MINOR


def _model_of(annotation: Any) -> type[BaseModel] | None:
    """The model class inside an annotation like ``Model``, ``list[Model]`` or ``Model | None``."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = typing.get_origin(annotation)
    if origin in (list, Union, types.UnionType):
        for arg in typing.get_args(annotation):
            found = _model_of(arg)
            if found is not None:
                return found
    return None


def _drop_unknown(model: type[BaseModel], data: Any) -> Any:
    """Remove fields that a newer minor added and this reader does not know, recursively."""
    if isinstance(data, list):
        return [_drop_unknown(model, item) for item in data]
    if not isinstance(data, dict):
        return data
    kept: dict[str, Any] = {}
    for name, value in data.items():
        field = model.model_fields.get(name)
        if field is None:
            continue
        inner = _model_of(field.annotation)
        kept[name] = _drop_unknown(inner, value) if inner else value
    return kept


def decode(message_type: MessageType, payload: bytes, model: type[M] | None = None) -> M:
    """Parse and validate a payload of the given message type; raise a ContractError if invalid."""
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise PayloadTooLarge(f"{len(payload)} bytes, at most {MAX_PAYLOAD_BYTES}")
    try:
        data = json.loads(payload, parse_constant=_no_constant)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError, ValueError) as exc:
        raise InvalidPayload(f"not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidPayload("payload must be a JSON object")
    cls = model or MODELS[message_type]
    if _check_version(data.get("schema_version")):
        data = _drop_unknown(cls, data)
    try:
        return typing.cast(M, cls.model_validate(data))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "payload"
        raise InvalidPayload(f"{where}: {first['msg']}") from None
