"""Which agent alarms the hub holds as active, so each snapshot is checked against them cheaply.

A snapshot lists every device's active alarms as its agent sees them. An alarm the hub still holds
as active but the agent no longer lists ended while the hub was not told (a reset while the agent
was down, an agent that lost its state): the store ends it with ``reconciled`` (``hub.ledger``).
The common case, a device with no alarm, costs one dict lookup per device and snapshot.
"""

from datetime import datetime
from typing import Any

from contract import Snapshot
from hub.domain.alarms import HUB_KINDS, OPEN_STATES, alarm_key

Key = tuple[str, str]
Unlisted = tuple[str, str, str, int | None, int, datetime]  # school, device, kind, zone, snapshot seq, ts


class ActiveAlarms:
    """The open, active, agent-raised alarms per device, kept in step with every commit."""

    def __init__(self) -> None:
        self._held: dict[Key, dict[str, tuple[str, int | None]]] = {}

    def note(self, alarm: dict[str, Any]) -> None:
        """Take in an alarm as stored (``alarm_dict``): hold it while open and active, else forget it."""
        device_id = alarm.get("device_id")
        kind = str(alarm.get("kind"))
        if device_id is None or kind in HUB_KINDS:
            return
        key = (str(alarm["school_id"]), str(device_id))
        zone = alarm.get("zone")
        name = alarm_key(kind, zone)
        if alarm.get("state") in OPEN_STATES and alarm.get("condition") == "active":
            self._held.setdefault(key, {})[name] = (kind, zone)
        elif key in self._held:
            self._held[key].pop(name, None)
            if not self._held[key]:
                del self._held[key]

    def unlisted(self, school_id: str, snapshot: Snapshot) -> list[Unlisted]:
        """The held alarms of the snapshot's devices that the snapshot does not list as active."""
        out: list[Unlisted] = []
        for status in snapshot.devices:
            held = self._held.get((school_id, status.device_id))
            if not held:
                continue
            listed = set(status.active_alarms)
            for name, (kind, zone) in held.items():
                if name not in listed:
                    out.append((school_id, status.device_id, kind, zone, snapshot.seq, snapshot.ts))
        return out

    def __len__(self) -> int:
        return sum(len(held) for held in self._held.values())
