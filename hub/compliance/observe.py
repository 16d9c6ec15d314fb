"""What rules about working devices read, from the database and the hub's last heartbeats."""

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub.db.models import Device
from hub.domain.compliance.model import DeviceState, Observed
from hub.domain.state import HubState
from hub.forwarding.models import OutboxRow

Metrics = Callable[[str, str], Mapping[str, float | str | None] | None]
CHUNK = 500


def observed_of(
    session: Session, schools: Iterable[str], now: datetime, metrics: Metrics | None = None
) -> dict[str, Observed]:
    """Each school's devices (availability, since, reason, last reported metrics) and their last
    alarm delivered to a receiver, read in chunks of schools."""
    wanted = list(dict.fromkeys(schools))
    devices: dict[str, dict[str, DeviceState]] = defaultdict(dict)
    forwarded: dict[str, dict[str, datetime]] = defaultdict(dict)
    for start in range(0, len(wanted), CHUNK):
        chunk = wanted[start : start + CHUNK]
        rows = session.execute(
            select(Device.school_id, Device.id, Device.availability, Device.since, Device.reason).where(
                Device.school_id.in_(chunk)
            )
        )
        for school, device, availability, since, reason in rows:
            reported = (metrics(school, device) if metrics else None) or {}
            devices[school][device] = DeviceState(availability, since, reason, reported)
        delivered = session.execute(
            select(OutboxRow.school_id, OutboxRow.device_id, func.max(OutboxRow.delivered_at))
            .where(OutboxRow.school_id.in_(chunk), OutboxRow.state == "delivered", OutboxRow.device_id.is_not(None))
            .group_by(OutboxRow.school_id, OutboxRow.device_id)
        )
        for school, with_device, at in delivered:
            if with_device is not None and at is not None:
                forwarded[school][with_device] = at
    return {s: Observed(now, devices[s], forwarded[s]) for s in wanted}


def metrics_from(state: HubState) -> Metrics:
    """Each device's numbers and texts in its gateway's last heartbeat (flags left out)."""

    def metrics(school: str, device: str) -> dict[str, float | str | None] | None:
        last = state.metrics(school, device)
        return {k: v for k, v in last[0].items() if not isinstance(v, bool)} if last else None

    return metrics


def local_day(now: datetime, zone: ZoneInfo) -> date:
    """The school's date now: rules in force from a date bind from its local midnight."""
    return now.astimezone(zone).date()
