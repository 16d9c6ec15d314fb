"""The hub's current view of gateways and devices, in memory; it returns changes, never writes.

A device's availability as the API shows it is the one its agent reports, unless its gateway is
offline: then it is ``offline`` with reason ``gateway_offline`` (never silently "online").
A gateway is online when its presence is not offline/stopped and it has not missed heartbeats.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from contract import Birth, DeviceInfo, Event, Snapshot
from contract.messages import MetricValue
from hub.domain.liveness import SeqTracker, is_silent

GATEWAY_OFFLINE = "gateway_offline"


class UnknownDevice(ValueError):
    """An event for a device its gateway never announced (registered enrolment)."""


@dataclass(frozen=True)
class Change:
    """An availability change of a device (device_id set) or a gateway (device_id None)."""

    school_id: str
    gateway_id: str
    device_id: str | None
    availability: str
    reason: str | None
    at: datetime
    previous: str


@dataclass
class DeviceState:
    """One device: what its agent reports, and what the hub shows."""

    school_id: str
    gateway_id: str
    id: str
    kind: str
    reported: str = "unknown"
    reported_reason: str | None = None
    availability: str = "unknown"
    reason: str | None = None
    since: datetime | None = None
    location: str = ""
    cameras: tuple[str, ...] = ()  # the cameras that see it (its birth's ``cameras`` attribute)
    metrics: Mapping[str, MetricValue] | None = None  # of the last heartbeat, as the agent measured them
    shared: tuple[str | None, str | None] | None = None  # (firmware, fault) as last written (several hubs)
    reported_seq: int | None = None  # the gateway's event seq when ``reported`` was reported (ordering)


def device_summary(metrics: Mapping[str, MetricValue]) -> tuple[str | None, str | None]:
    """What IT staff read of a device's metrics: its firmware, and a camera's fault class (no usable
    picture first, then a poor one)."""
    firmware = metrics.get("firmware")
    fault = next((v for v in (metrics.get("blind"), metrics.get("image_fault")) if isinstance(v, str) and v), None)
    return (firmware[:200] if isinstance(firmware, str) and firmware else None), (fault[:64] if fault else None)


@dataclass(frozen=True, slots=True)
class ReceivedSnapshot:
    """A snapshot as ingest took it: for the sinks after the commit (time series)."""

    school_id: str
    gateway_id: str
    received_at: datetime  # the hub's clock
    snapshot: Snapshot
    foreign: frozenset[str] = frozenset()  # devices it lists that are not this gateway's: not its to report

    def owns(self, device_id: str) -> bool:
        """Whether the line for this device is the gateway's own to report."""
        return device_id not in self.foreign


@dataclass
class GatewayState:
    """One gateway's liveness."""

    school_id: str
    id: str
    last_seen: datetime
    presence: str = "unknown"
    silent: bool = False
    born: bool = False
    interval_s: float = 30.0
    availability: str = "unknown"
    reason: str | None = None
    since: datetime | None = None
    seqs: SeqTracker = field(default_factory=SeqTracker)
    last_rebirth: datetime | None = None
    spool_failing: bool | None = None  # None: not known since the hub started
    last_snapshot_at: datetime | None = None  # the agent's time of its last heartbeat
    spool_pending: int | None = None  # events and alarms its spool holds unsent (last heartbeat)
    lag_s: float | None = None  # the hub's receipt minus the agent's time of its last heartbeat
    shared_at: datetime | None = None  # last_seen when it was last written as the shared last-seen


def spool_condition(gw: GatewayState, failing: bool) -> bool:
    """Whether the gateway's spool health changed (or is first known): its IT alarm must follow."""
    changed = gw.spool_failing is not failing
    gw.spool_failing = failing
    return changed


Key = tuple[str, str]


@dataclass(frozen=True)
class StoredGateway:
    """A gateway as the database has it, for a hub taking it over."""

    school_id: str
    id: str
    availability: str
    reason: str | None
    since: datetime
    last_seen_at: datetime | None
    spool_pending: int | None
    spool_failing: bool | None


class HubState:
    """Gateways and devices by (school_id, id); every method returns the changes it caused."""

    def __init__(self, heartbeat_misses: float, default_interval_s: float) -> None:
        self.misses = heartbeat_misses
        self.default_interval_s = default_interval_s
        self.gateways: dict[Key, GatewayState] = {}
        self.devices: dict[Key, DeviceState] = {}
        self.members: dict[Key, set[str]] = {}  # (school, gateway) -> device ids
        self.stale_lines = 0  # device lines of heartbeats older than what the device last reported

    # --- loading and lookup -------------------------------------------------------------------

    def gateway(self, school_id: str, gateway_id: str, now: datetime) -> GatewayState:
        """The gateway's state, created on first contact."""
        key = (school_id, gateway_id)
        gw = self.gateways.get(key)
        if gw is None:
            gw = self.gateways[key] = GatewayState(school_id, gateway_id, now, interval_s=self.default_interval_s)
        return gw

    def restore_device(self, device: DeviceState) -> None:
        """Load a device from the store at start-up."""
        if device.reason != GATEWAY_OFFLINE:
            device.reported, device.reported_reason = device.availability, device.reason
        self.devices[(device.school_id, device.id)] = device
        self.members.setdefault((device.school_id, device.gateway_id), set()).add(device.id)

    # --- several hubs (hub.partitions) -----------------------------------------------------------

    def note_members(self, school_id: str, gateway_id: str, birth: Birth) -> None:
        """Another hub's gateway was born: its devices are known here (looked up by the API), nothing else."""
        for info in birth.devices:
            self._upsert(school_id, gateway_id, info)

    def forget(self, held: Callable[[str, str], bool]) -> None:
        """Gateways another hub now holds: their liveness and metrics here would go stale; drop them."""
        for key in [k for k in self.gateways if not held(*k)]:
            del self.gateways[key]
            for device_id in self.members.get(key, ()):
                device = self.devices.get((key[0], device_id))
                if device is not None:
                    device.metrics = None

    def adopt(self, gateways: Sequence[StoredGateway], devices: Sequence[DeviceState], now: datetime) -> None:
        """Gateways this hub takes over, as the database has them: none is born (each is asked for a
        rebirth), and the watchdog counts from the shared last-seen, so one that fell silent with its
        old hub is not given a fresh window."""
        for device in devices:
            old = self.devices.get((device.school_id, device.id))
            if old is not None:
                self.members.get((device.school_id, old.gateway_id), set()).discard(device.id)
            self.restore_device(device)
        for row in gateways:
            gw = GatewayState(row.school_id, row.id, row.last_seen_at or now, interval_s=self.default_interval_s)
            gw.availability, gw.reason, gw.since = row.availability, row.reason, row.since
            if row.reason in ("presence_offline", "presence_stopped"):
                gw.presence = row.reason.removeprefix("presence_")
            gw.silent = row.reason == "heartbeat_timeout"
            gw.spool_failing, gw.spool_pending = row.spool_failing, row.spool_pending
            gw.shared_at = row.last_seen_at
            self.gateways[(row.school_id, row.id)] = gw

    def shared_last_seen(
        self, held: Callable[[str, str], bool]
    ) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
        """The held gateways heard of since they were last written, and their devices whose firmware or
        fault class changed since: rows for ``Store.LAST_SEEN`` and ``Store.DEVICE_SUMMARY``."""
        gateways: list[dict[str, object]] = []
        devices: list[dict[str, object]] = []
        for (school_id, gateway_id), gw in self.gateways.items():
            if gw.last_seen == gw.shared_at or not held(school_id, gateway_id):
                continue
            gw.shared_at = gw.last_seen
            gateways.append(
                {
                    "k_school": school_id, "k_id": gateway_id, "v_last_seen_at": gw.last_seen,
                    "v_last_heartbeat_at": gw.last_snapshot_at, "v_publish_lag_s": gw.lag_s,
                    "v_spool_pending": gw.spool_pending, "v_spool_failing": gw.spool_failing,
                }
            )  # fmt: skip
            for device_id in self.members.get((school_id, gateway_id), ()):
                device = self.devices[(school_id, device_id)]
                summary = device_summary(device.metrics) if device.metrics is not None else None
                if summary is not None and summary != device.shared:
                    device.shared = summary
                    devices.append(
                        {"k_school": school_id, "k_id": device_id, "v_firmware": summary[0], "v_fault": summary[1]}
                    )
        return gateways, devices

    # --- messages -----------------------------------------------------------------------------

    def on_presence(self, school_id: str, gateway_id: str, presence: str, now: datetime) -> list[Change]:
        """Retained presence or last will."""
        gw = self.gateway(school_id, gateway_id, now)
        gw.presence = presence
        if presence == "online":
            gw.last_seen, gw.silent = now, False
        return self._settle(gw, now)

    def on_birth(self, school_id: str, gateway_id: str, birth: Birth, now: datetime) -> list[Change]:
        """An inventory: devices are added or moved to this gateway."""
        gw = self.gateway(school_id, gateway_id, now)
        gw.born, gw.last_seen, gw.silent = True, now, False
        gw.seqs.reset(birth.seq)
        for info in birth.devices:
            self._upsert(school_id, gateway_id, info)
        return self._settle(gw, now)

    def _upsert(self, school_id: str, gateway_id: str, info: DeviceInfo) -> None:
        device = self.devices.get((school_id, info.id))
        if device is None:
            device = self.devices[(school_id, info.id)] = DeviceState(school_id, gateway_id, info.id, info.kind)
        else:
            self.members.get((school_id, device.gateway_id), set()).discard(info.id)
            device.gateway_id, device.kind = gateway_id, info.kind
        device.location = info.location
        device.reported_seq = None  # a birth may follow a new spool, whose seq starts again
        device.cameras = tuple(c for c in info.attributes.get("cameras", "").split(",") if c)
        self.members.setdefault((school_id, gateway_id), set()).add(info.id)

    def on_snapshot(
        self, school_id: str, gateway_id: str, snap: Snapshot, now: datetime
    ) -> tuple[list[Change], bool, ReceivedSnapshot]:
        """A heartbeat with every device's state: the changes, whether events are missing (gap), and
        the snapshot as received (its devices that are this gateway's), for the sinks."""
        gw = self.gateway(school_id, gateway_id, now)
        gw.last_seen, gw.silent, gw.interval_s = now, False, snap.interval_s
        # The common case is a heartbeat where nothing changed: a dict lookup and a compare per device,
        # and only the devices whose report differs from the last one are settled (and written).
        moved: list[str] = []
        foreign: list[str] = []  # rare; a set of the common case would cost every heartbeat
        devices = self.devices
        for status in snap.devices:
            device = devices.get((school_id, status.device_id))
            if device is None or device.gateway_id != gateway_id:
                foreign.append(status.device_id)  # not this gateway's device: a forged or stale line
                continue
            if device.reported_seq is not None and snap.seq < device.reported_seq:
                # Taken before an event already applied (a heartbeat redelivered late, or the events
                # session ahead of the heartbeats'): its line would put the device back as it was.
                self.stale_lines += 1
                continue
            device.reported_seq = snap.seq
            # A reference to the metrics, not the heartbeat: kept per gateway, heartbeats outlived the
            # young GC generations and cost the hub 0.3 core at 50,000 device updates/s.
            device.metrics = status.metrics
            if device.reported != status.availability or device.reported_reason != status.reason:
                device.reported, device.reported_reason = status.availability, status.reason
                moved.append(status.device_id)
        pending = snap.spool.pending_events if snap.spool else None
        gap = gw.seqs.gap(snap.seq, pending)
        gw.last_snapshot_at = snap.ts
        gw.spool_pending = snap.spool.pending_events + snap.spool.pending_alarms if snap.spool else None
        gw.lag_s = (now - snap.ts).total_seconds()
        return (
            self._settle(gw, now, only=moved),
            gap,
            ReceivedSnapshot(school_id, gateway_id, now, snap, frozenset(foreign)),
        )

    def metrics(self, school_id: str, device_id: str) -> tuple[Mapping[str, MetricValue], datetime] | None:
        """A device's metrics in its gateway's last heartbeat, with that heartbeat's time."""
        device = self.devices.get((school_id, device_id))
        gw = self.gateways.get((school_id, device.gateway_id)) if device else None
        if device is None or device.metrics is None or gw is None or gw.last_snapshot_at is None:
            return None
        return device.metrics, gw.last_snapshot_at

    def on_event(self, school_id: str, gateway_id: str, event: Event, now: datetime) -> list[Change]:
        """An event; availability events change the device at once (if not older than what we know)."""
        gw = self.gateway(school_id, gateway_id, now)
        gw.last_seen, gw.silent = now, False
        gw.seqs.seen(event.seq)
        device = self.devices.get((school_id, event.device_id))
        fresh = (
            device is not None
            and (device.reported_seq is None or event.seq >= device.reported_seq)
            and (device.since is None or event.ts >= device.since or device.reason == GATEWAY_OFFLINE)
        )
        if event.type == "availability.changed" and device is not None and event.availability and fresh:
            device.reported, device.reported_reason = event.availability, event.reason
            device.reported_seq = event.seq
            return self._settle(gw, now, at=event.ts, only=[event.device_id])
        return self._settle(gw, now, only=[])

    def check_member(self, school_id: str, gateway_id: str, device_id: str) -> None:
        """Whether an event's device may be stored (registered enrolment): it is in its gateway's
        birth, or no birth is known yet; UnknownDevice if not.

        An alarm is never held back for inventory: before the birth (asked for at once) arrives,
        the broker's ACL vouches for the gateway. Once the birth is known, a device it does not
        list is refused as a dead letter.
        """
        if self.knows(school_id, gateway_id) and device_id not in self.members.get((school_id, gateway_id), set()):
            raise UnknownDevice(f"device {device_id!r} is not in the birth of {school_id}/{gateway_id}")

    def knows(self, school_id: str, gateway_id: str) -> bool:
        """Whether the gateway's inventory has been seen (else a rebirth is due)."""
        gw = self.gateways.get((school_id, gateway_id))
        return gw is not None and gw.born

    # --- liveness -----------------------------------------------------------------------------

    def check(
        self, now: datetime, *, heard_only: bool = False, held: Callable[[str, str], bool] | None = None
    ) -> list[Change]:
        """The heartbeat watchdog: gateways silent for too long go offline. ``heard_only``: only those
        whose heartbeats this hub has received (a sticky broker's share); ``held``: only those this hub
        holds (``hub.partitions``). The others are another hub's to watch."""
        changes: list[Change] = []
        for gw in self.gateways.values():
            if heard_only and gw.last_snapshot_at is None:
                continue
            if held is not None and not held(gw.school_id, gw.id):
                continue
            if (
                not gw.silent
                and gw.availability != "offline"
                and is_silent(gw.last_seen, gw.interval_s, self.misses, now)
            ):
                gw.silent = True
                changes += self._settle(gw, now)
        return changes

    def _settle(
        self, gw: GatewayState, now: datetime, at: datetime | None = None, only: list[str] | None = None
    ) -> list[Change]:
        """Recompute the gateway's and its devices' shown availability; return what changed.

        ``only`` names the devices whose report may have changed; every other member already shows
        what it reported (or ``gateway_offline``) unless the gateway's own state changes here, and
        then all members are recomputed.
        """
        changes: list[Change] = []
        reason: str | None
        if gw.presence in ("offline", "stopped"):
            state, reason = "offline", f"presence_{gw.presence}"
        elif gw.silent:
            state, reason = "offline", "heartbeat_timeout"
        else:
            state, reason = "online", None
        if (state, reason) != (gw.availability, gw.reason):
            changes.append(Change(gw.school_id, gw.id, None, state, reason, now, gw.availability))
            gw.availability, gw.reason, gw.since = state, reason, now
            only = None
        members = self.members.get((gw.school_id, gw.id), set())
        for device_id in sorted(members if only is None else members.intersection(only)):
            device = self.devices[(gw.school_id, device_id)]
            why: str | None
            if state == "offline":
                shown, why = "offline", GATEWAY_OFFLINE
            else:
                shown, why = device.reported, device.reported_reason
            if (shown, why) != (device.availability, device.reason):
                when = at or now
                if device.since is not None and when < device.since:
                    when = now
                changes.append(Change(gw.school_id, gw.id, device.id, shown, why, when, device.availability))
                device.availability, device.reason, device.since = shown, why, when
        return changes
