"""The hub's MQTT link: two persistent sessions, so an alarm never queues behind telemetry.

- **main** (the configured client id): presence, births, status and image answers.
- **events** (client id + ``-events``): the agents' events; acks and commands are published on it.
  Telemetry from thousands of gateways can fill the main session's queue at the broker and pause
  its socket (below); events have their own queue and their own TCP connection, so a panic press
  reaches ingest's alarm lane within one hop however far behind the snapshots are, and the
  broker's PUBACK for an ack never waits behind unread telemetry (bench/alarm_latency
  ``--load-rate``).

Both sessions are persistent (fixed client ids; MQTT 5 with a session that never expires, or
3.1.1 with ``clean_session=False``): the broker queues QoS1 messages while the hub restarts
(mosquitto: raise ``max_queued_messages``, see deploy/mosquitto.conf). Each message is
acknowledged to the broker (PUBACK) only once ingest has queued it, with MQTT 5's Receive Maximum
(``receive_maximum``) asking the broker to send no more ahead. Measured, mosquitto 2.0.11 keeps
that window only until the first PUBACK (with 3.1.1's ``max_inflight_messages`` alike;
docs/decisions.md 34), so the hub also stops reading the telemetry socket while ingest is behind
(``PausableClient``): the backlog stays at the broker rather than in the hub's memory.

With a share group, status and events are load-shared between hubs; presence and births go to
every hub (shared subscriptions get no retained messages, and every hub needs the inventory).
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiomqtt
from paho.mqtt import client as paho_client
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from campusguard.backoff import backoff_s
from campusguard.mqtt import subscribe_all
from campusguard.tasks import cancel_and_wait
from contract import MessageType, TopicTree
from hub.settings import MqttSettings

log = logging.getLogger(__name__)

OnMessage = Callable[[str, bytes], Awaitable[None]]
HELD_MAX = 1_000  # messages read from the socket but not yet taken by ingest: reading pauses here
HELD_RESUME = 100  # ... and resumes once this few are left


class PausableClient(aiomqtt.Client):
    """An aiomqtt client whose socket reading can be paused, so TCP carries ingest's backpressure.

    aiomqtt reads every packet as it arrives into an unbounded queue, and mosquitto 2.0 does not
    hold back QoS1 messages for a consumer that acknowledges late (docs/decisions.md): a hub
    behind its load would fill its memory and spend its CPU parsing what it cannot apply yet.
    Paused, the broker's send buffer fills and the broker keeps the backlog. Re-implements
    aiomqtt 2.5's ``_on_socket_open`` (pinned in pyproject.toml) to keep the read callback.
    """

    _read_fd: int | None = None
    _read: Callable[[], None] | None = None
    paused = False

    def _on_socket_open(self, client: paho_client.Client, userdata: Any, sock: Any) -> None:
        def read() -> None:
            try:
                while True:
                    client.loop_read()
                    pending = getattr(client._sock, "pending", None)  # TLS may hold decoded bytes
                    if pending is not None and pending() > 0:
                        continue
                    break
            except Exception as exc:  # noqa: BLE001 - a broken connection: aiomqtt's way of saying so
                if not self._disconnected.done():
                    self._disconnected.set_exception(exc)

        def misc() -> None:
            self._misc_task = self._loop.create_task(self._misc_loop())

        self._read_fd, self._read, self.paused = sock.fileno(), read, False
        self._loop.call_soon_threadsafe(self._loop.add_reader, sock.fileno(), read)
        self._loop.call_soon_threadsafe(misc)

    def _on_socket_close(self, client: paho_client.Client, userdata: Any, sock: Any) -> None:
        self._read_fd = self._read = None
        super()._on_socket_close(client, userdata, sock)

    def hold_back(self) -> None:
        """Pause or resume reading the socket by how many messages wait for ingest."""
        held = len(self.messages)
        if self._read_fd is None or self._read is None:
            return
        if not self.paused and held >= HELD_MAX:
            self._loop.remove_reader(self._read_fd)
            self.paused = True
        elif self.paused and held <= HELD_RESUME:
            self.paused = False
            self._loop.add_reader(self._read_fd, self._read)
            self._read()  # what TLS decoded already would not wake the selector


ClientFactory = Callable[..., aiomqtt.Client]
OUTGOING_INFLIGHT = 1_000  # acks and commands unacknowledged by the broker: a rebirth wave must not hold acks
EVENTS_SUFFIX = "-events"
NEVER_EXPIRES = 0xFFFFFFFF  # MQTT 5 session expiry: the session outlives any restart, like clean_session=False


@dataclass(frozen=True)
class Session:
    """One MQTT connection of the hub: its name, client id and topic filters."""

    name: str
    client_id: str
    topics: tuple[tuple[str, int], ...]


class MqttLink:
    """Receives agents' messages and publishes acks and commands."""

    def __init__(self, settings: MqttSettings, client_factory: ClientFactory = PausableClient) -> None:
        self.settings = settings
        self.client_factory = client_factory
        self.tree = TopicTree(settings.topic_prefix)
        self.connected = asyncio.Event()  # both sessions are up
        self._up: set[str] = set()
        self._client: aiomqtt.Client | None = None  # the events session's, for publishing

    def sessions(self) -> tuple[Session, Session]:
        """The main and the events session, with their topic filters (shared when a group is set)."""
        group, tree = self.settings.share_group, self.tree
        main = Session(
            "main",
            self.settings.client_id,
            (
                (tree.subscription(MessageType.PRESENCE), 1),
                (tree.subscription(MessageType.BIRTH), 1),
                (tree.subscription(MessageType.STATUS, group), 1),
                (tree.subscription(MessageType.IMAGE), 1),  # every hub: the one that asked may be any
            ),
        )
        events = Session(
            "events", self.settings.client_id + EVENTS_SUFFIX, ((tree.subscription(MessageType.EVENT, group), 1),)
        )
        return main, events

    async def publish(self, topic: str, payload: bytes) -> bool:
        """Publish at QoS1; False when not connected (the agent resends, so nothing is lost)."""
        client = self._client
        if client is None:
            return False
        try:
            async with asyncio.timeout(10):
                await client.publish(topic, payload, qos=1)
        except (aiomqtt.MqttError, TimeoutError) as exc:
            log.debug("publish to %s failed: %s", topic, exc)
            return False
        return True

    def _client_for(self, session: Session, node: MqttSettings | None = None) -> aiomqtt.Client:
        s = node or self.settings
        tls = s.tls_parameters()
        version: dict[str, Any]
        if s.protocol == "5":
            connect = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            connect.ReceiveMaximum = s.receive_maximum
            connect.SessionExpiryInterval = 0 if s.clean_session else NEVER_EXPIRES
            version = {"protocol": aiomqtt.ProtocolVersion.V5, "clean_start": s.clean_session, "properties": connect}
        else:
            version = {"protocol": aiomqtt.ProtocolVersion.V311, "clean_session": s.clean_session}
        client = self.client_factory(
            s.host,
            s.port,
            username=s.username,
            password=s.resolve_password(),
            identifier=session.client_id,
            keepalive=s.keepalive_s,
            tls_params=tls,
            timeout=10,
            max_inflight_messages=OUTGOING_INFLIGHT,
            **version,
        )
        paho = getattr(client, "_client", None)  # aiomqtt 2.x has no option for it; paho has
        if paho is not None:
            paho.manual_ack_set(True)
        return client

    async def run(self, stop: asyncio.Event, on_message: OnMessage) -> None:
        """Keep both sessions connected until ``stop`` is set, feeding every message to ``on_message``."""
        async with asyncio.TaskGroup() as group:
            for session in self.sessions():
                group.create_task(self._keep(session, stop, on_message), name=f"mqtt-{session.name}")

    def _mark(self, session: Session, up: bool, client: aiomqtt.Client | None = None) -> None:
        (self._up.add if up else self._up.discard)(session.name)
        if session.name == "events":
            self._client = client if up else None
        if len(self._up) == len(self.sessions()):
            self.connected.set()
        else:
            self.connected.clear()

    async def _keep(self, session: Session, stop: asyncio.Event, on_message: OnMessage) -> None:
        """Keep one session up; with ``fallback_urls`` a node that fails is followed at once by the next
        (the persistent session lives in the broker cluster, not in one node)."""
        nodes = self.settings.nodes()
        attempt, outage_logged, at = 0, False, 0
        while not stop.is_set():
            node = nodes[at]
            try:
                async with self._client_for(session, node) as client:
                    await subscribe_all(client, list(session.topics))
                    self._mark(session, True, client)
                    if outage_logged:
                        log.info("broker %s:%s reachable again (%s session)", node.host, node.port, session.name)
                    attempt, outage_logged = 0, False
                    await self._receive(client, stop, on_message)
                    return
            except aiomqtt.MqttError as exc:
                if not outage_logged:
                    log.warning("broker %s:%s unavailable (%s session): %s", node.host, node.port, session.name, exc)
                    outage_logged = True
            finally:
                self._mark(session, False)
            at = (at + 1) % len(nodes)
            try:
                async with asyncio.timeout(backoff_s(attempt, 0.25, 5.0) if at == 0 else 0.1):
                    await stop.wait()
            except TimeoutError:
                pass
            attempt += 1 if at == 0 else 0

    async def _receive(self, client: aiomqtt.Client, stop: asyncio.Event, on_message: OnMessage) -> None:
        paho = getattr(client, "_client", None)

        async def reader() -> None:
            async for message in client.messages:
                payload = message.payload
                data = payload if isinstance(payload, bytes) else str(payload or "").encode()
                await on_message(message.topic.value, data)
                if paho is not None and message.qos:  # queued, or kept as a dead letter: the broker may let go
                    paho.ack(message.mid, message.qos)
                if isinstance(client, PausableClient):
                    client.hold_back()

        task = asyncio.create_task(reader(), name="mqtt-reader")
        stopper = asyncio.create_task(stop.wait(), name="mqtt-stop")
        try:
            await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            await cancel_and_wait(task, stopper)
            await asyncio.gather(task, stopper, return_exceptions=True)
        error = task.exception() if task.done() and not task.cancelled() else None
        if error is not None:
            raise error
