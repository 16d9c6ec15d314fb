"""The agent process: devices polled by their loops, changes turned into events, one publisher.

Start order: publisher (the sink) first, then the poll loops (the sources); stop in reverse.
"""

import asyncio
import base64
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import device_profiles
from agent import __version__, sdnotify
from agent.alarms import AlarmChange, AlarmTracker
from agent.availability import AvailabilityTracker, Transition
from agent.camera.snapshots import SnapshotStore
from agent.capture import Camera, Captures
from agent.config import AgentConfig, DeviceConfig
from agent.drivers import Driver, DriverContext
from agent.drivers.registry import driver_factory, spec_for_address, specs
from agent.drivers.spec import public_address
from agent.errors import AgentError, ConfigError
from agent.metrics import render, serve
from agent.profiles import LoadedProfile, load_profile, resolve
from agent.publisher import ClientFactory, Publisher
from agent.registers import Value
from agent.scheduler import PollLoop, PollPolicy
from agent.spool import Spool
from contract import Birth, Command, DeviceInfo, DeviceStatus, Event, Image, Snapshot
from contract.messages import SpoolStats, new_event_id, utc_now

log = logging.getLogger(__name__)


def _detected(change: AlarmChange) -> str:
    return {"restart": " (while the agent was down)", "counter": " (counted by the device, not seen)"}.get(
        change.detected or "", ""
    )


@dataclass
class DeviceRuntime:
    """One device's live state inside the agent."""

    config: DeviceConfig
    profile: LoadedProfile
    driver: Driver
    availability: AvailabilityTracker
    alarms: AlarmTracker
    interval_s: float
    values: dict[str, Value] = field(default_factory=dict)
    poll_ms: float | None = None
    saved_alarms: dict[str, Any] | None = None  # the alarm state last written to the spool
    loop: PollLoop | None = None


def load_profiles(config: AgentConfig) -> dict[str, LoadedProfile]:
    """Load every profile the configured devices use; a bad one stops start-up with its location."""
    dirs = [*config.profile_dirs, device_profiles.PROFILES_DIR]
    loaded: dict[str, LoadedProfile] = {}
    for device in config.devices:
        if device.profile in loaded:
            continue
        try:
            path = resolve(device.profile, dirs)
        except (ValueError, FileNotFoundError) as exc:
            raise ConfigError(f"device {device.id}: {exc}") from None
        loaded[device.profile] = load_profile(path, device.profile)
    return loaded


class Agent:
    """Polls the configured devices and publishes what they say."""

    def __init__(
        self,
        config: AgentConfig,
        spool: Spool | None = None,
        client_factory: ClientFactory | None = None,
        now: Callable[[], datetime] = utc_now,
    ) -> None:
        self.config = config
        self.now = now
        self.metrics_server: asyncio.Server | None = None  # /metrics, when metrics.port is set
        self.spool = spool or Spool(config.spool.path, config.spool.max_events)
        self.profiles = load_profiles(config)
        self.context = DriverContext()
        self.devices: dict[str, DeviceRuntime] = {}
        self._phases: dict[float, float] = {}  # interval -> first-tick offset of bus devices
        self._rng = random.Random()  # noqa: S311 - schedule phases, not security
        used = {self.profiles[d.profile].profile.driver for d in config.devices if d.enabled}
        for spec in specs():
            if spec.name in used and spec.prepare is not None:
                spec.prepare(config, self.context)  # resources its devices share (the camera pool)
        kept = self.context.shared.get("snapshots")
        self.snapshots = kept if isinstance(kept, SnapshotStore) else None
        self._build(config)
        extra = {"client_factory": client_factory} if client_factory else {}
        self.publisher = Publisher(
            config.mqtt, config.spool, school_id=config.school_id, gateway_id=config.gateway_id, spool=self.spool,
            birth=self.birth, snapshot=self.snapshot, on_command=self.on_command, images=self.image,
            snapshot_interval_s=config.snapshot_interval_s, agent_version=__version__, **extra,
        )  # fmt: skip
        keep = self.snapshots.save if self.snapshots else None
        self.captures = Captures(self._camera, self.publisher.send_image, keep)

    def _build(self, config: AgentConfig) -> None:
        """Each enabled device's driver and trackers (alarm states as the spool kept them)."""
        started, saved_alarms = self.now(), self.spool.alarm_states()
        for device in config.devices:
            if not device.enabled:
                continue
            profile = self.profiles[device.profile]
            if spec_for_address(device.address).name != profile.profile.driver:
                raise ConfigError(
                    f"device {device.id}: address {device.address.split('://')[0]}:// does not suit "
                    f"a {profile.profile.driver} profile ({device.profile})"
                )
            factory = driver_factory(profile.profile.driver)
            driver = factory(device, profile, self.context, config.timeout(device))
            self.devices[device.id] = DeviceRuntime(
                config=device,
                profile=profile,
                driver=driver,
                availability=AvailabilityTracker(started, config.defaults.offline_after),
                alarms=AlarmTracker(profile.alarms, saved_alarms.get(device.id)),
                interval_s=config.interval(device),
            )
        for d in self.devices.values():  # linked cameras must be cameras this agent checks
            if bad := [cam for cam in d.config.cameras if self._camera(cam) is None]:
                raise ConfigError(f"device {d.config.id}: cameras: {', '.join(bad)}: not an enabled camera")

    # --- messages -------------------------------------------------------------------------

    def birth(self) -> Birth:
        """The inventory message."""
        devices = [
            DeviceInfo(
                id=d.config.id,
                kind=d.profile.kind,
                profile=d.profile.ref,
                vendor=d.profile.profile.vendor,
                model=d.profile.profile.model,
                location=d.config.location,
                interval_s=d.interval_s,
                attributes={
                    "address": public_address(d.config.address),
                    **d.config.attributes,
                    **({"cameras": ",".join(d.config.cameras)} if d.config.cameras else {}),
                },
            )
            for d in self.devices.values()
        ]
        return Birth(ts=self.now(), seq=self.spool.last_seq, devices=devices, agent_version=__version__)

    def snapshot(self) -> Snapshot:
        """Every device's availability, reason, metrics and active alarms."""
        statuses = []
        for d in self.devices.values():
            metrics: dict[str, Value | None] = {name: d.values.get(name) for name in d.profile.profile.metrics}
            if d.poll_ms is not None:
                metrics["poll_ms"] = round(d.poll_ms, 2)
            if d.loop is not None:
                metrics["polls"] = d.loop.polls
            statuses.append(
                DeviceStatus(
                    device_id=d.config.id,
                    availability=d.availability.state,
                    reason=d.availability.reason,
                    since=d.availability.since,
                    metrics=metrics,
                    active_alarms=d.alarms.active(),
                )
            )
        stats = self.spool.stats()  # held in memory when the file fails; then ``error`` says why
        spool = SpoolStats(
            pending_events=stats.pending_events,
            pending_alarms=stats.pending_alarms,
            dropped_telemetry=stats.dropped_telemetry,
            write_errors=self.spool.write_errors,
            error=self.spool.failure,
        )
        return Snapshot(
            ts=self.now(),
            seq=stats.last_seq,
            interval_s=self.config.snapshot_interval_s,
            devices=statuses,
            spool=spool,
        )

    def image(self, image_id: str) -> Image:
        """A kept camera snapshot as a message (without data when it has expired)."""
        kept = self.captures.recent(image_id) or (self.snapshots.load(image_id) if self.snapshots else None)
        device_id = image_id.split(".", 1)[0]
        if kept is None:
            return Image(ts=self.now(), image_id=image_id, device_id=device_id if device_id in self.devices else None)
        jpeg, taken = kept
        return Image(
            ts=self.now(),
            image_id=image_id,
            device_id=device_id,
            taken=taken,
            data_b64=base64.b64encode(jpeg).decode(),
        )

    def _camera(self, device_id: str) -> Camera | None:
        d = self.devices.get(device_id)
        return d.driver if d is not None and isinstance(d.driver, Camera) else None

    def on_command(self, command: Command) -> None:
        """Act on a hub command the publisher does not handle itself."""
        if command.name == "image" and command.capture:
            self.captures.start(command)
        elif command.name == "probe":
            for d in self.devices.values():
                if d.loop and command.device_id in (None, d.config.id):
                    d.loop.probe()

    # --- poll outcomes -----------------------------------------------------------------------

    def _emit(self, build: Callable[[int], Event]) -> None:
        self.spool.append(build)
        self.publisher.wake()

    def _emit_transition(self, d: DeviceRuntime, t: Transition) -> None:
        if t.state in ("offline", "degraded") or t.previous in ("offline", "degraded"):
            log.info("%s: %s -> %s%s", d.config.id, t.previous, t.state, f" ({t.reason})" if t.reason else "")
        self._emit(
            lambda seq: Event(
                event_id=new_event_id(),
                seq=seq,
                device_id=d.config.id,
                ts=t.at,
                type="availability.changed",
                availability=t.state,
                previous=t.previous,
                reason=t.reason,
            )
        )

    @staticmethod
    def _alarm_event(d: DeviceRuntime, change: AlarmChange) -> Callable[[int], Event]:
        rule = change.rule
        image_id = d.values.get("image_id") if change.change == "raised" else None
        return lambda seq: Event(
            event_id=new_event_id(),
            seq=seq,
            device_id=d.config.id,
            ts=change.at,
            type=f"alarm.{change.change}",
            alarm_type=rule.type,
            zone=rule.zone,
            severity=rule.severity,
            latched=rule.latch is not None,
            value=change.value,
            image_id=str(image_id) if image_id else None,
            detected=change.detected,
        )

    def _on_success(self, d: DeviceRuntime, values: dict[str, Value], at: datetime, poll_ms: float) -> None:
        d.values, d.poll_ms = values, poll_ms
        degraded = next((name for name in d.profile.degraded_when if values.get(name)), None)
        transition = d.availability.success(at, degraded)
        if transition:
            self._emit_transition(d, transition)
        changes = d.alarms.update(values, at)
        if not d.alarms.rules:
            return
        state = d.alarms.export()
        if changes or state != d.saved_alarms:
            # The events and the state they leave are written together: a restart in between
            # would otherwise report a change twice or not at all. A spool file that cannot be
            # written keeps them in memory (``agent.spool``): they are sent all the same.
            self.spool.append_all([self._alarm_event(d, c) for c in changes], (d.config.id, state))
            for change in changes:
                log.info("%s: alarm %s %s%s", d.config.id, change.key, change.change, _detected(change))
            d.saved_alarms = state
            if changes:
                self.publisher.wake()

    def _on_failure(self, d: DeviceRuntime, error: AgentError, at: datetime) -> None:
        transition = d.availability.failure(error.reason, at)
        if transition:
            self._emit_transition(d, transition)
            log.debug("%s: %s", d.config.id, error)

    # --- running ----------------------------------------------------------------------------

    def _loop_for(self, d: DeviceRuntime) -> PollLoop:
        timeout = self.config.timeout(d.config)
        deadline = getattr(d.driver, "poll_deadline_s", None) or timeout * max(d.driver.requests_per_poll, 1) + 0.25
        policy = PollPolicy(
            interval_s=d.interval_s,
            deadline_s=deadline,
            backoff_after=self.config.defaults.offline_after,
            max_backoff_s=self.config.defaults.max_backoff_s,
        )
        return PollLoop(
            d.config.id,
            policy,
            d.driver.poll,
            on_success=lambda values, at, ms: self._on_success(d, values, at, ms),
            on_failure=lambda error, at: self._on_failure(d, error, at),
            now=self.now,
            start_offset_s=self._phase(d),
            turn=d.driver.turn,
        )

    def _phase(self, d: DeviceRuntime) -> float | None:
        """The first tick's offset, shared by every bus device with this interval; None for a phase of its own.

        The devices of one bus queue on its lock and run back to back; different buses run at the
        same moment, so their round trips overlap and one event-loop wake serves several answers.
        bench/agent_poll measured a phase per bus at 1.4x the CPU of one shared phase (buses then
        take turns, one answer per wake), and a phase per device at 1.8x.
        """
        if d.driver.schedule_group is None or self.config.defaults.bus_phase == "spread":
            return None
        if d.interval_s not in self._phases:
            self._phases[d.interval_s] = self._rng.uniform(0, min(d.interval_s, 1.0))
        return self._phases[d.interval_s]

    def _polls(self) -> int:
        return sum(d.loop.polls for d in self.devices.values() if d.loop)

    def _stop_grace_s(self) -> float:
        """How long polls in progress may take to finish at shutdown."""
        return max((d.loop.policy.deadline_s for d in self.devices.values() if d.loop), default=0.0) + 1.0

    async def run(self, stop: asyncio.Event) -> None:
        """Run until ``stop`` is set; then stop polling, say "stopped" and disconnect."""
        publisher_stop = asyncio.Event()
        try:
            async with asyncio.TaskGroup() as tg:
                if self.config.metrics.port is not None:
                    self.metrics_server = await serve(
                        self.config.metrics.host, self.config.metrics.port, lambda: render(self)
                    )
                tg.create_task(self.publisher.run(publisher_stop), name="publisher")
                pollers = []
                for d in self.devices.values():
                    d.loop = self._loop_for(d)
                    pollers.append(tg.create_task(d.loop.run(), name=f"poll:{d.config.id}"))
                watchdog = tg.create_task(
                    sdnotify.serve_watchdog(self._polls, f"polling {len(self.devices)} devices", bool(self.devices)),
                    name="systemd-watchdog",
                )
                await stop.wait()
                watchdog.cancel()
                sdnotify.notify("STOPPING=1")
                for d in self.devices.values():
                    if d.loop:
                        d.loop.stop()
                if pollers:
                    _, late = await asyncio.wait(pollers, timeout=self._stop_grace_s())
                    for task in late:  # a poll stuck past its own deadline
                        task.cancel()
                publisher_stop.set()
        finally:
            if self.metrics_server is not None:
                self.metrics_server.close()
            await self.captures.close()
            for d in self.devices.values():
                await d.driver.close()
            self.context.close()
            self.spool.close()


def run_agent(config_path: Path, stop: asyncio.Event | None = None) -> None:
    """Load the configuration and run the agent until SIGINT or SIGTERM."""
    import signal

    from agent.config import load_agent_config

    config = load_agent_config(config_path)

    async def main() -> None:
        stop_event = stop or asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop_event.set)
        agent = Agent(config)
        log.info(
            "agent %s/%s: %d devices, broker %s",
            config.school_id,
            config.gateway_id,
            len(agent.devices),
            config.mqtt.url,
        )
        await agent.run(stop_event)

    asyncio.run(main())
