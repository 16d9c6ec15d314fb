"""Many gateways at once, speaking the contract as their agents would, over one MQTT connection.

For tests and benchmarks of several hubs (``tests/hub/test_hub_cluster.py``, ``bench/hub_cluster``):
each simulated gateway has a retained birth and presence, a heartbeat (snapshot) every
``interval_s`` with its devices' states and its spool's count of unacknowledged events, and events
numbered by a per-gateway ``seq``. An event is published again every ``ack_timeout_s`` until a hub
acks it, as the agent's spool does; a rebirth command is answered with the birth. The connection
moves to the next broker node when one fails, and keeps every unacknowledged event meanwhile.

One connection carries every gateway (the subject is the hubs, not a broker's connection count), so
a gateway's last will is not simulated; ``silence`` stops a gateway's heartbeats instead.
"""

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from contract import (
    Ack,
    Birth,
    Command,
    DeviceInfo,
    DeviceStatus,
    Event,
    MessageType,
    Presence,
    Snapshot,
    TopicTree,
    decode,
    encode,
)
from contract.messages import SpoolStats, new_event_id, utc_now

log = logging.getLogger(__name__)

DEVICES = (("panic-1", "panic_button"), ("cam-1", "camera"), ("fence-1", "fence"), ("gate-1", "access_control"))
TICK_S = 0.05
CAMERA_FIRMWARE = "V5.7.3 build 240117"  # what each simulated camera reports (an ONVIF metric)


def school_of(index: int) -> str:
    """The school of simulated gateway ``index`` (one gateway per school)."""
    return f"sch-{index:04d}"


@dataclass
class SimGateway:
    """One simulated gateway: its devices' states, its event counter and its unacknowledged events."""

    school: str
    gateway: str = "gw-01"
    seq: int = 0
    states: dict[str, str] = field(default_factory=lambda: {d: "online" for d, _ in DEVICES})
    since: dict[str, datetime] = field(default_factory=lambda: dict.fromkeys((d for d, _ in DEVICES), utc_now()))
    pressed: bool = False  # a panic alarm latched (listed as active in every heartbeat after)
    unacked: dict[str, tuple[bytes, float]] = field(default_factory=dict)  # event id -> (payload, last sent)
    next_heartbeat: float = 0.0
    silent: bool = False


class Fleet:
    """``gateways`` simulated gateways on a broker cluster (``nodes``: (host, port) to try in turn)."""

    def __init__(
        self,
        nodes: Sequence[tuple[str, int]],
        prefix: str,
        gateways: int,
        *,
        interval_s: float = 2.0,
        ack_timeout_s: float = 3.0,
    ) -> None:
        self.nodes, self.tree = list(nodes), TopicTree(prefix)
        self.interval_s, self.ack_timeout_s = interval_s, ack_timeout_s
        self.gateways = [SimGateway(school_of(i)) for i in range(gateways)]
        self.by_school = {g.school: g for g in self.gateways}
        self.lock = threading.Lock()
        self.acked: set[str] = set()
        self.sent = self.resent = self.heartbeats = self.rebirths = self.failovers = 0
        self._rebirth_asked: set[str] = set()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.connected = threading.Event()

    # --- what a test does -----------------------------------------------------------------------

    def press(self, index: int) -> str:
        """The gateway's panic button is pressed: an alarm event; its id."""
        with self.lock:
            self.gateways[index].pressed = True
        return self._event(index, "panic-1", type="alarm.raised", alarm_type="panic", severity="critical", latched=True)

    def set_state(self, index: int, device_id: str, availability: str) -> str:
        """A device changes availability: its agent sends the event and its later heartbeats say so."""
        gw = self.gateways[index]
        with self.lock:
            previous, gw.states[device_id] = gw.states[device_id], availability
            gw.since[device_id] = utc_now()
        return self._event(
            index, device_id, type="availability.changed", availability=availability, previous=previous,
            reason=None if availability == "online" else "no_answer",
        )  # fmt: skip

    def unacked(self) -> int:
        """Events no hub has acked yet."""
        with self.lock:
            return sum(len(g.unacked) for g in self.gateways)

    def expected(self) -> dict[tuple[str, str], str]:
        """(school, device) -> the availability its agent reports now."""
        with self.lock:
            return {(g.school, d): state for g in self.gateways for d, state in g.states.items()}

    # --- running --------------------------------------------------------------------------------

    def start(self) -> "Fleet":
        """Connect and begin (in a thread of its own)."""
        self._thread = threading.Thread(target=self._run, name="fleet", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop publishing and disconnect."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)

    def _event(self, index: int, device_id: str, **fields: object) -> str:
        gw = self.gateways[index]
        with self.lock:
            gw.seq += 1
            event = Event(event_id=new_event_id(), seq=gw.seq, device_id=device_id, ts=utc_now(), **fields)
            gw.unacked[event.event_id] = (encode(event), 0.0)  # sent at the next tick
        return event.event_id

    def _run(self) -> None:
        at = 0
        while not self._stop.is_set():
            host, port = self.nodes[at % len(self.nodes)]
            client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"fleet-{time.time_ns()}")
            client.max_inflight_messages_set(1_000)
            client.on_message = self._on_message
            client.on_subscribe = self._on_subscribe
            try:
                client.connect(host, port, keepalive=10)
            except OSError:
                at += 1
                self.failovers += 1
                time.sleep(0.2)
                continue
            client.loop_start()
            try:
                self._serve(client)
            finally:
                client.loop_stop()
                client.disconnect()
                self.connected.clear()
            at += 1
            self.failovers += 1

    def _serve(self, client: mqtt.Client) -> None:
        deadline = time.monotonic() + 10
        while not client.is_connected():
            if time.monotonic() > deadline or self._stop.is_set():
                return
            time.sleep(0.01)
        client.subscribe(
            [(self.tree.subscription(MessageType.ACK), 1), (self.tree.subscription(MessageType.COMMAND), 1)]
        )
        for gw in self.gateways:  # as an agent does on every connect
            self._publish(client, gw, MessageType.PRESENCE, encode(Presence(state="online", ts=utc_now())), retain=True)
            self._birth(client, gw)
        self.connected.set()
        while client.is_connected() and not self._stop.is_set():
            self._tick(client, time.monotonic())
            time.sleep(TICK_S)

    def _tick(self, client: mqtt.Client, now: float) -> None:
        with self.lock:
            asked, self._rebirth_asked = self._rebirth_asked, set()
        for school in asked:
            self._birth(client, self.by_school[school])
            self.rebirths += 1
        for gw in self.gateways:
            with self.lock:
                due = [(i, p) for i, (p, sent) in gw.unacked.items() if now - sent >= self.ack_timeout_s]
                for event_id, payload in due:
                    gw.unacked[event_id] = (payload, now)
            for _, payload in due:
                self._publish(client, gw, MessageType.EVENT, payload)
            self.sent += len(due)
            if not gw.silent and now >= gw.next_heartbeat:
                gw.next_heartbeat = now + self.interval_s
                self._publish(client, gw, MessageType.STATUS, self._snapshot(gw))
                self.heartbeats += 1

    def _snapshot(self, gw: SimGateway) -> bytes:
        with self.lock:
            pending = len(gw.unacked)
            statuses = [
                DeviceStatus(
                    device_id=d, availability=s, reason=None if s == "online" else "no_answer",
                    since=gw.since[d], active_alarms=["panic"] if d == "panic-1" and gw.pressed else [],
                    metrics={"firmware": CAMERA_FIRMWARE} if d == "cam-1" else {},
                )
                for d, s in gw.states.items()
            ]  # fmt: skip
            seq = gw.seq
        spool = SpoolStats(pending_events=pending, pending_alarms=0, dropped_telemetry=0)
        return encode(Snapshot(ts=utc_now(), seq=seq, interval_s=self.interval_s, devices=statuses, spool=spool))

    def _birth(self, client: mqtt.Client, gw: SimGateway) -> None:
        infos = [DeviceInfo(id=d, kind=k, profile=f"{k}/sim", interval_s=1) for d, k in DEVICES]
        with self.lock:
            seq = gw.seq
        self._publish(client, gw, MessageType.BIRTH, encode(Birth(ts=utc_now(), seq=seq, devices=infos)), retain=True)

    def _publish(
        self, client: mqtt.Client, gw: SimGateway, kind: MessageType, payload: bytes, retain: bool = False
    ) -> None:
        client.publish(self.tree.topic(gw.school, gw.gateway, kind), payload, qos=1, retain=retain)

    def _on_subscribe(
        self, client: mqtt.Client, userdata: object, mid: int, codes: list[ReasonCode], properties: object
    ) -> None:
        """A refused subscription (NATS while it elects leaders after a node's death): start again."""
        if any(code.is_failure for code in codes):
            log.warning("fleet: the broker refused a subscription; reconnecting")
            client.disconnect()

    def _on_message(self, client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        try:
            where = self.tree.parse(message.topic)
            decoded: object = decode(where.message_type, bytes(message.payload))
        except Exception:  # noqa: BLE001 - a simulator: a bad message is logged, not fatal
            log.warning("fleet: cannot read %s", message.topic)
            return
        gw = self.by_school.get(where.school_id)
        if gw is None:
            return
        with self.lock:
            if isinstance(decoded, Ack):
                for event_id in decoded.event_ids:
                    if gw.unacked.pop(event_id, None) is not None:
                        self.acked.add(event_id)
            elif isinstance(decoded, Command) and decoded.name == "rebirth":
                self._rebirth_asked.add(gw.school)
