"""What the hub writes to a time series, as line protocol (measurements, tags and fields in
docs/timeseries.md).

- ``device``: every device of every heartbeat: its metrics as the agent measured them, then
  ``availability`` (text), ``online`` (1 when online or degraded) and ``intact`` (1 when online);
  tags school, gateway, device, kind, location. A metric named like one of those three is shadowed.
  Only the devices that belong to the sending gateway; the agent's time.
- ``gateway``: one line per heartbeat: the spool's depths and failures and ``lag_s`` (the hub's
  receive time minus the agent's send time).
- ``availability_change``: every change of a device or gateway the hub decided, at its time.
- ``alarm``: every alarm created or changed (raised, acknowledged, resolved, escalated, ended).
"""

from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from functools import lru_cache
from typing import Any

from hub.domain.rates import INTACT, UP
from hub.domain.state import ReceivedSnapshot
from hub.live import LiveEvent
from hub.timeseries.lineproto import FieldValue, line, line_of, ns, series

Describe = Callable[[str, str], tuple[str, str]]  # (school, device) -> (kind, location)


def snapshot_lines(received: ReceivedSnapshot, describe: Describe) -> Iterator[str]:
    """The ``device`` lines of one heartbeat, then its ``gateway`` line."""
    snap, school, gateway = received.snapshot, received.school_id, received.gateway_id
    stamp = ns(snap.ts)
    for status in snap.devices:
        if not received.owns(status.device_id):
            continue
        fields: dict[str, FieldValue] = dict(status.metrics)
        fields["availability"] = status.availability
        fields["online"] = int(status.availability in UP)
        fields["intact"] = int(status.availability in INTACT)
        text = line_of(
            _device_series(school, gateway, status.device_id, *describe(school, status.device_id)), fields, stamp
        )
        if text is not None:
            yield text
    gateway_fields: dict[str, FieldValue] = {
        "devices": len(snap.devices),
        "lag_s": round((received.received_at - snap.ts).total_seconds(), 3),
        "seq": snap.seq,
    }
    if snap.spool is not None:
        gateway_fields |= {
            "pending_events": snap.spool.pending_events,
            "pending_alarms": snap.spool.pending_alarms,
            "dropped_telemetry": snap.spool.dropped_telemetry,
            "spool_write_errors": snap.spool.write_errors,
            "spool_failing": snap.spool.error is not None,
        }
    text = line("gateway", {"school": school, "gateway": gateway}, gateway_fields, snap.ts)
    if text is not None:
        yield text


@lru_cache(maxsize=1 << 17)  # a city's devices: the same few strings on every heartbeat
def _device_series(school: str, gateway: str, device: str, kind: str, location: str) -> str:
    return series(
        "device", {"school": school, "gateway": gateway, "device": device, "kind": kind, "location": location}
    )


def _time(value: Any, fallback: datetime) -> datetime:
    if isinstance(value, datetime):
        return value
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return fallback


def change_lines(changes: Iterable[LiveEvent], describe: Describe, at: datetime) -> Iterator[str]:
    """``availability_change`` lines for device and gateway changes, ``alarm`` lines for alarms."""
    for change in changes:
        data = change.data
        if change.type in ("device", "gateway"):
            device = data.get("id") if change.type == "device" else None
            kind = describe(str(data.get("school_id")), str(device))[0] if device else "gateway"
            tags = {"school": data.get("school_id"), "gateway": data.get("gateway_id"), "device": device, "kind": kind}
            fields: dict[str, FieldValue] = {
                "availability": data.get("availability"),
                "previous": data.get("previous"),
                "reason": data.get("reason"),
            }
            text = line("availability_change", tags, fields, _time(data.get("since"), at))
        elif change.type == "alarm":
            text = alarm_line(data, at)
        else:
            continue
        if text is not None:
            yield text


def alarm_line(alarm: dict[str, Any], at: datetime) -> str | None:
    """One alarm as stored, at the time of the change."""
    tags = {
        "school": alarm.get("school_id"),
        "gateway": alarm.get("gateway_id"),
        "device": alarm.get("device_id"),
        "kind": alarm.get("kind"),
        "severity": alarm.get("severity"),
    }
    fields: dict[str, FieldValue] = {
        "id": alarm.get("id"),
        "state": alarm.get("state"),
        "condition": alarm.get("condition"),
        "escalation_level": alarm.get("escalation_level"),
        "zone": alarm.get("zone"),
    }
    return line("alarm", tags, fields, at)
