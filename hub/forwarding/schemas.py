"""API shapes of forwarding: an alarm's delivery per route, and each attempt."""

from datetime import datetime

from pydantic import BaseModel, ConfigDict


class DeliveryOut(BaseModel):
    """Where an alarm (or its restore) stands on one route; forwarded only once a receiver ACKed."""

    model_config = ConfigDict(from_attributes=True)
    route: str
    restore: bool
    state: str  # pending, delivered, unroutable
    account: str | None
    area: int
    zone: int
    cid: int
    sia: str
    attempts: int
    created_at: datetime
    next_attempt_at: datetime
    delivered_at: datetime | None
    delivered_to: str | None
    last_error: str | None


class AttemptOut(BaseModel):
    """One try to deliver to one receiver; ``result`` null while running, ``interrupted`` if the hub died."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    route: str
    restore: bool
    receiver: str
    hub: str
    started_at: datetime
    finished_at: datetime | None
    result: str | None
    detail: str | None
    seq: int | None
    rtt_ms: float | None
