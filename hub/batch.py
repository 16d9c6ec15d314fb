"""What one ingest turn asks the store to record, and how it splits when the database refuses it."""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from contract import DeviceInfo, Event
from hub.deadletters import DeadLetter
from hub.domain.state import Change, ReceivedSnapshot

Key = tuple[str, str]


@dataclass
class Batch:
    """What one batch of messages asks the store to record."""

    inventory: list[tuple[str, str, DeviceInfo]] = field(default_factory=list)
    agent_versions: dict[Key, str] = field(default_factory=dict)
    changes: list[Change] = field(default_factory=list)
    events: dict[str, tuple[str, str, Event]] = field(default_factory=dict)
    # (school, device, kind, zone, snapshot seq, snapshot ts): alarms a snapshot no longer lists
    reconcile: list[tuple[str, str, str, int | None, int, datetime]] = field(default_factory=list)
    escalate_after_s: float | None = None
    offline_alarms: bool = True
    prune_live_before: datetime | None = None
    dead_letters: list[DeadLetter] = field(default_factory=list)
    # (school, gateway, kind, active, at): gateway-level IT alarms, such as a failing spool
    gateway_alarms: list[tuple[str, str, str, bool, datetime]] = field(default_factory=list)
    raw: dict[str, tuple[str, bytes]] = field(default_factory=dict)  # event id -> (topic, payload), for dead letters
    # the snapshots taken, for the sinks after the commit (not written; a batch of only these needs no transaction)
    snapshots: list[ReceivedSnapshot] = field(default_factory=list)
    rebirths: set[Key] = field(default_factory=set)  # gateways to ask for a birth after the batch (not written)
    last_seen: list[dict[str, Any]] = field(default_factory=list)  # the shared last-seen (``Store.LAST_SEEN``)
    device_summaries: list[dict[str, Any]] = field(default_factory=list)  # ``Store.DEVICE_SUMMARY``

    def __bool__(self) -> bool:
        return bool(
            self.inventory
            or self.agent_versions
            or self.changes
            or self.events
            or self.reconcile
            or self.escalate_after_s
            or self.prune_live_before
            or self.dead_letters
            or self.gateway_alarms
            or self.last_seen
            or self.device_summaries
        )

    def atoms(self) -> int:
        """How many independent parts the batch has (what ``split`` divides)."""
        return len(self._parts())

    def _parts(self) -> list[tuple[str, Any]]:
        return (
            [("inventory", row) for row in self.inventory]
            + [("version", item) for item in self.agent_versions.items()]
            + [("change", change) for change in self.changes]
            + [("event", item) for item in self.events.items()]
            + [("reconcile", item) for item in self.reconcile]
            + [("dead_letter", letter) for letter in self.dead_letters]
            + [("gateway_alarm", item) for item in self.gateway_alarms]
        )

    def split(self) -> tuple["Batch", "Batch"]:
        """Two batches of about half the parts each; housekeeping (sweep, prune) goes with the first."""
        parts = self._parts()
        half = max(1, len(parts) // 2)
        first = Batch(
            escalate_after_s=self.escalate_after_s,
            offline_alarms=self.offline_alarms,
            prune_live_before=self.prune_live_before,
            snapshots=self.snapshots,
            last_seen=self.last_seen,
            device_summaries=self.device_summaries,
        )
        second = Batch(offline_alarms=self.offline_alarms)
        for batch, chunk in ((first, parts[:half]), (second, parts[half:])):
            for kind, value in chunk:
                if kind == "inventory":
                    batch.inventory.append(value)
                elif kind == "version":
                    batch.agent_versions[value[0]] = value[1]
                elif kind == "change":
                    batch.changes.append(value)
                elif kind == "event":
                    batch.events[value[0]] = value[1]
                    if value[0] in self.raw:
                        batch.raw[value[0]] = self.raw[value[0]]
                elif kind == "reconcile":
                    batch.reconcile.append(value)
                elif kind == "gateway_alarm":
                    batch.gateway_alarms.append(value)
                else:
                    batch.dead_letters.append(value)
        return first, second

    def gateways(self) -> set[Key]:
        """The gateways whose messages the batch writes (``Store.write`` fences them)."""
        keys = {(s, g) for s, g, _ in self.inventory} | set(self.agent_versions)
        keys |= {(c.school_id, c.gateway_id) for c in self.changes} | {(s, g) for s, g, _ in self.events.values()}
        keys |= {(s, g) for s, g, *_ in self.gateway_alarms} | {(r["k_school"], r["k_id"]) for r in self.last_seen}
        return keys

    def drop(self, lost: set[Key], lost_devices: set[Key]) -> None:
        """Leave out what concerns gateways this hub no longer holds (and their devices): another hub
        applies them now, and their events, not acked, come again to it."""
        self.inventory = [row for row in self.inventory if (row[0], row[1]) not in lost]
        self.agent_versions = {k: v for k, v in self.agent_versions.items() if k not in lost}
        self.changes = [c for c in self.changes if (c.school_id, c.gateway_id) not in lost]
        self.events = {i: e for i, e in self.events.items() if (e[0], e[1]) not in lost}
        self.reconcile = [r for r in self.reconcile if (r[0], r[1]) not in lost_devices]
        self.gateway_alarms = [a for a in self.gateway_alarms if (a[0], a[1]) not in lost]
        self.last_seen = [r for r in self.last_seen if (r["k_school"], r["k_id"]) not in lost]
        self.device_summaries = [r for r in self.device_summaries if (r["k_school"], r["k_id"]) not in lost_devices]

    def describe(self) -> tuple[str, str, bytes, str | None]:
        """A one-part batch as (source, topic, payload, event id) for its dead letter."""
        for event_id, (school_id, gateway_id, event) in self.events.items():
            topic, payload = self.raw.get(event_id, ("", event.model_dump_json().encode()))
            return f"{school_id}/{gateway_id}", topic, payload, event_id
        for school_id, gateway_id, info in self.inventory:
            return f"{school_id}/{gateway_id}", "", info.model_dump_json().encode(), None
        for (school_id, gateway_id), version in self.agent_versions.items():
            return f"{school_id}/{gateway_id}", "", version.encode(), None
        for change in self.changes:
            return f"{change.school_id}/{change.gateway_id}", "", repr(change).encode(), None
        for item in self.reconcile:
            return f"{item[0]}/-", "", repr(item).encode(), None
        for school_id, gateway_id, *rest in self.gateway_alarms:
            return f"{school_id}/{gateway_id}", "", repr(rest).encode(), None
        return "hub", "", b"", None
