"""The MQTT side of the agent: presence, birth, snapshots, and events drained from the spool.

Events leave the spool only on the hub's ack. After every (re)connect all unacked events are due
again, alarms first. At most ``window`` events are in flight; an event unacked for
``ack_timeout_s`` is sent again (the hub stores by event id, so a repeat is harmless).
"""

import asyncio
import logging
import time
from collections.abc import Callable

import aiomqtt

from agent.config import MqttSettings, SpoolSettings
from agent.errors import ConfigError
from agent.spool import Spool
from campusguard.backoff import backoff_s
from campusguard.mqtt import SecretMissing, subscribe_all
from contract import (
    Ack,
    Birth,
    Command,
    ContractError,
    Image,
    MessageType,
    Presence,
    Snapshot,
    TopicTree,
    decode,
    encode,
)
from contract.messages import utc_now

log = logging.getLogger(__name__)


class _Stop(Exception):
    """Ends a session on request."""


ClientFactory = Callable[..., aiomqtt.Client]


def _honour_swallowed_cancel() -> None:
    """Raise CancelledError if this task was asked to stop and the request got lost on the way.

    On Python 3.11, ``asyncio.wait_for`` (which aiomqtt awaits PUBACKs with) returns the result
    and drops a cancel that lands as the PUBACK arrives; the task then loops for ever with
    ``cancelling()`` > 0 and its TaskGroup never finishes (seen as an agent that would not stop).
    """
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


class Publisher:
    """Keeps one MQTT session alive and moves the agent's messages over it."""

    def __init__(
        self,
        settings: MqttSettings,
        spool_settings: SpoolSettings,
        *,
        school_id: str,
        gateway_id: str,
        spool: Spool,
        birth: Callable[[], Birth],
        snapshot: Callable[[], Snapshot],
        on_command: Callable[[Command], None],
        images: Callable[[str], Image] | None = None,
        snapshot_interval_s: float,
        agent_version: str = "",
        client_factory: ClientFactory = aiomqtt.Client,
    ) -> None:
        self.settings = settings
        self.node = 0  # which of settings.nodes() is tried next
        self.spool_settings = spool_settings
        self.spool = spool
        self._birth = birth
        self._snapshot = snapshot
        self._on_command = on_command
        self._images = images
        self.snapshot_interval_s = snapshot_interval_s
        self.agent_version = agent_version
        self._client_factory = client_factory
        tree = TopicTree(settings.topic_prefix)
        self.topics = {t: tree.topic(school_id, gateway_id, t) for t in MessageType}
        self.client_id = settings.client_id or f"cg-agent-{school_id}-{gateway_id}"
        self._wake = asyncio.Event()
        self._images_due: asyncio.Queue[str] = asyncio.Queue(maxsize=64)  # pictures taken for the hub
        self.connected = asyncio.Event()
        self.rejected = 0
        self.sent = 0

    def wake(self) -> None:
        """Tell the sender that the spool has new events."""
        self._wake.set()

    def send_image(self, image_id: str) -> None:
        """Publish a kept picture (or its absence) on the image topic when connected: a capture's answer."""
        try:
            self._images_due.put_nowait(image_id)
        except asyncio.QueueFull:  # the hub asked for more than a gateway takes at once: it times out
            log.warning("dropped picture %s: %d are waiting to be sent", image_id, self._images_due.qsize())

    def _presence(self, state: str, reason: str | None = None) -> bytes:
        data = {"state": state, "ts": utc_now(), "agent_version": self.agent_version, "reason": reason}
        return encode(Presence.model_validate(data))

    def _client(self, s: MqttSettings) -> aiomqtt.Client:
        tls = s.tls_parameters()
        try:
            password = s.resolve_password()
        except SecretMissing as exc:  # the agent cannot start: exit for its supervisor, saying why
            raise ConfigError(str(exc)) from None
        will = aiomqtt.Will(self.topics[MessageType.PRESENCE], self._presence("offline"), qos=1, retain=True)
        return self._client_factory(
            s.host,
            s.port,
            username=s.username,
            password=password,
            identifier=self.client_id,
            will=will,
            keepalive=s.keepalive_s,
            clean_session=True,
            tls_params=tls,
            timeout=10,
        )

    async def run(self, stop: asyncio.Event) -> None:
        """Connect, serve, reconnect with backoff, until ``stop`` is set; then say "stopped".

        With ``fallback_urls`` a failed or dropped node is followed at once by the next one; the
        backoff grows only after every node was tried. The spool is the same whichever node carries it.
        """
        attempt, outage_logged, nodes = 0, False, self.settings.nodes()
        while not stop.is_set():
            node = nodes[self.node]
            try:
                async with self._client(node) as client:
                    if outage_logged:
                        log.info("broker %s:%s reachable again", node.host, node.port)
                    attempt, outage_logged = 0, False
                    try:
                        await self._session(client, stop)
                    except Exception as exc:
                        # Leaving the client sends a clean DISCONNECT, so the broker would not fire
                        # the will: say "offline", and why, before the agent exits for its supervisor.
                        await self._say_offline(client, f"{type(exc).__name__}: {exc}")
                        raise
                    finally:
                        self.connected.clear()
                    await client.publish(
                        self.topics[MessageType.PRESENCE], self._presence("stopped"), qos=1, retain=True
                    )
                    return
            except* aiomqtt.MqttError as group:
                if not outage_logged:
                    log.warning(  # the text, not the exception: a kept record would keep its traceback alive
                        "broker %s:%s unavailable: %s", node.host, node.port, str(group.exceptions[0])
                    )
                    outage_logged = True
            self.node = (self.node + 1) % len(nodes)
            wait = backoff_s(attempt, 0.5, 15.0) if self.node == 0 else 0.1  # the next node at once
            try:
                async with asyncio.timeout(wait):
                    await stop.wait()
            except TimeoutError:
                pass
            if self.node == 0:
                attempt += 1

    async def _say_offline(self, client: aiomqtt.Client, reason: str) -> None:
        topic = self.topics[MessageType.PRESENCE]
        try:
            async with asyncio.timeout(5):
                await client.publish(topic, self._presence("offline", reason[:200]), qos=1, retain=True)
        except (aiomqtt.MqttError, TimeoutError) as exc:
            log.error("could not say offline before exiting: %s", exc)

    async def _session(self, client: aiomqtt.Client, stop: asyncio.Event) -> None:
        await subscribe_all(client, [(self.topics[MessageType.ACK], 1), (self.topics[MessageType.COMMAND], 1)])
        await client.publish(self.topics[MessageType.PRESENCE], self._presence("online"), qos=1, retain=True)
        await self._publish_state(client)
        self.spool.mark_all_unsent()  # the spool never raises here: a failing file is replaced by memory
        self.connected.set()

        async def until_stopped() -> None:
            await stop.wait()
            raise _Stop

        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(self._send_events(client), name="send-events")
                tg.create_task(self._receive(client), name="receive")
                tg.create_task(self._send_snapshots(client), name="snapshots")
                tg.create_task(self._send_images(client), name="images")
                tg.create_task(until_stopped(), name="until-stopped")
        except* _Stop:
            pass

    async def _publish_state(self, client: aiomqtt.Client) -> None:
        await client.publish(self.topics[MessageType.BIRTH], encode(self._birth()), qos=1, retain=True)
        await client.publish(self.topics[MessageType.STATUS], encode(self._snapshot()), qos=1)

    async def _send_events(self, client: aiomqtt.Client) -> None:
        topic = self.topics[MessageType.EVENT]
        timeout = self.spool_settings.ack_timeout_s
        while True:
            _honour_swallowed_cancel()
            self._wake.clear()
            now = time.time()
            room = self.spool_settings.window - self.spool.in_flight(now, timeout)
            batch = self.spool.due(now, timeout, room) if room > 0 else []
            published = 0
            # Marked sent before the first publish, in one spool write: the hub's ack of the first
            # event may come back before the last is out, and an ack of an event not marked as
            # published is ignored (it would be resent ack_timeout_s later, for nothing).
            if batch:
                self.spool.mark_sent([seq for seq, _ in batch], now)
            try:
                for _seq, payload in batch:
                    await client.publish(topic, payload, qos=1)
                    published += 1
            finally:
                self.sent += published
                if published < len(batch):  # the connection failed midway: the rest is due again at once
                    self.spool.mark_sent([seq for seq, _ in batch[published:]], None)
            if batch:
                continue
            try:
                async with asyncio.timeout(min(1.0, timeout / 2)):
                    await self._wake.wait()
            except TimeoutError:
                pass

    async def _receive(self, client: aiomqtt.Client) -> None:
        ack_topic = self.topics[MessageType.ACK]
        command_topic = self.topics[MessageType.COMMAND]
        async for message in client.messages:
            _honour_swallowed_cancel()
            if message.topic.value not in (ack_topic, command_topic):
                # amqtt (the demo broker) has been seen delivering retained messages of other topics.
                log.debug("ignored a message on %s", message.topic.value)
                continue
            payload = message.payload if isinstance(message.payload, bytes) else str(message.payload).encode()
            try:
                if message.topic.value == ack_topic:
                    ack = decode(MessageType.ACK, payload, Ack)
                    if self.spool.ack(list(ack.event_ids)):
                        self.wake()
                else:
                    command = decode(MessageType.COMMAND, payload, Command)
                    log.info("command %s from the hub", command.name)
                    if command.name == "rebirth":
                        await self._publish_state(client)
                    elif command.name == "image" and command.image_id and self._images and not command.capture:
                        image = encode(self._images(command.image_id))
                        await client.publish(self.topics[MessageType.IMAGE], image, qos=1)
                    else:
                        self._on_command(command)
            except ContractError as exc:
                self.rejected += 1
                log.warning("dropped an invalid %s message: %s", message.topic.value.rsplit("/", 1)[-1], exc)

    async def _send_images(self, client: aiomqtt.Client) -> None:
        while True:
            image_id = await self._images_due.get()
            if self._images is not None:
                await client.publish(self.topics[MessageType.IMAGE], encode(self._images(image_id)), qos=1)

    async def _send_snapshots(self, client: aiomqtt.Client) -> None:
        while True:
            _honour_swallowed_cancel()
            await asyncio.sleep(self.snapshot_interval_s)
            await client.publish(self.topics[MessageType.STATUS], encode(self._snapshot()), qos=1)
