"""Response and request schemas of the REST API, separate from the storage models."""

from datetime import datetime
from typing import Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from contract.messages import MetricValue
from hub.forwarding.schemas import DeliveryOut

T = TypeVar("T")
MAX_OFFSET = 10_000_000  # past any real list; keeps offsets inside every database's integer range


class Page(BaseModel, Generic[T]):
    """A list response."""

    items: list[T]
    total: int


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class SchoolOut(_Out):
    """A school: name and district from the directory in ``hub.yaml``; first seen when a gateway spoke."""

    id: str
    name: str
    district: str | None = None
    first_seen: datetime | None


class GatewayOut(_Out):
    """A gateway and its liveness."""

    id: str
    school_id: str
    availability: str
    reason: str | None
    since: datetime
    agent_version: str | None
    # from this hub's memory (None: nothing since it started); with cluster.partitions, the shared last-seen
    last_seen: datetime | None = None  # anything heard from it
    last_heartbeat: datetime | None = None  # the agent's time of its last heartbeat
    publish_lag_s: float | None = None  # that heartbeat's age when the hub took it (clock skew included)
    spool_pending: int | None = None  # events and alarms its spool still holds unsent
    spool_failing: bool | None = None
    devices: int = 0


class DeviceOut(_Out):
    """A device and its current availability."""

    id: str
    school_id: str
    gateway_id: str
    kind: str
    profile: str
    vendor: str
    model: str
    location: str
    availability: str
    reason: str | None
    since: datetime
    address: str = ""  # as its agent polls it, without credentials
    # from its gateway's last heartbeat on this hub (None: none since the hub started)
    last_seen: datetime | None = None
    firmware: str | None = None  # a camera's, as it reports it (ONVIF)
    fault: str | None = None  # a camera's picture fault now: covered, black, frozen, blur ... (None: none)
    active_alarms: int = 0  # open alarms of this device in the ledger
    # one device's page only: the last snapshot's metrics as this hub took them (None: not since it started)
    metrics: dict[str, MetricValue] | None = None
    metrics_at: datetime | None = None


class TransitionOut(_Out):
    """One availability change."""

    at: datetime
    availability: str
    reason: str | None


class AlarmOut(_Out):
    """An alarm in the ledger."""

    id: str
    school_id: str
    gateway_id: str
    device_id: str | None
    kind: str
    zone: int | None
    severity: str
    latched: bool
    state: Literal["raised", "acknowledged", "resolved"]
    condition: str
    raised_at: datetime
    cleared_at: datetime | None
    reset_at: datetime | None
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    acknowledged_by_name: str | None = None  # the person's display name when they acknowledged
    acknowledge_note: str | None
    resolved_at: datetime | None
    resolved_by: str | None
    resolved_by_name: str | None = None
    resolve_note: str | None
    disposition: str | None = Field(default=None, description="what it turned out to be (真警, 误报 ...)")
    escalated_at: datetime | None
    escalation_level: int
    value: float | int | bool | str | None = Field(default=None, description="the reading that raised it")
    image_id: str | None = Field(default=None, description="camera snapshot: GET /alarms/{id}/snapshot")
    received_at: datetime | None = Field(default=None, description="when the hub received it (hub clock)")
    ended_by: Literal["device", "reconciled", "superseded"] | None = Field(
        default=None,
        description=(
            "what ended the condition: the device's own reset or clear; reconciled (the agent's snapshot "
            "no longer lists it); superseded (a new activation of the same alarm arrived first)"
        ),
    )
    detected: Literal["restart", "counter"] | None = Field(
        default=None,
        description="found after the fact: while the agent was down (restart), or counted by the device (counter)",
    )
    forwarding: list[DeliveryOut] = Field(default_factory=list, description="delivery per route")


class DeadLetterOut(_Out):
    """A message the hub could not take."""

    id: int
    received_at: datetime
    source: str = Field(description="school/gateway from the topic, or foreign")
    school_id: str | None
    topic: str
    stage: Literal["decode", "apply", "store"]
    reason: str = Field(description="the contract's reject reason, or the error's type")
    detail: str
    payload: str = Field(description="the raw payload as text, at most 16 KiB")
    size: int = Field(description="the payload's size in bytes")


class AcknowledgeIn(BaseModel):
    """Acknowledging an alarm."""

    model_config = ConfigDict(extra="forbid")
    note: str | None = Field(default=None, max_length=2_000)
    by: str | None = Field(default=None, max_length=200, description="who, while accounts are off")


class ResolveIn(BaseModel):
    """Resolving an alarm: a note is required."""

    model_config = ConfigDict(extra="forbid")
    note: str = Field(min_length=1, max_length=2_000)
    by: str | None = Field(default=None, max_length=200, description="who, while accounts are off")
    disposition: Literal["real", "false_alarm", "device_fault", "drill", "test", "other"] | None = Field(
        default=None, description="what it turned out to be: 真警, 误报, 设备故障, 演练, 测试, 其他"
    )


class DayUptimeOut(BaseModel):
    """One local day (the school's time zone): seconds per availability, 在线率, 完好率 and coverage."""

    day: str
    start: datetime
    end: datetime
    online_s: float
    degraded_s: float
    offline_s: float
    unknown_s: float
    maintenance_s: float = 0.0
    uptime: float | None = Field(description="在线率: online or degraded over known time; null when none is known")
    intact: float | None = Field(description="完好率: online and not degraded (image usable) over known time")
    coverage: float | None = Field(description="known time over the day: unknown time is reported, never up")


class UptimeOut(BaseModel):
    """A device's time-weighted 在线率 and 完好率 over a range, with days cut in the school's time zone."""

    device_id: str
    school_id: str
    timezone: str
    start: datetime
    end: datetime
    uptime: float | None
    intact: float | None
    coverage: float | None
    days: list[DayUptimeOut]
