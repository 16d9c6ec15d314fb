"""The hub's MQTT link: one persistent session (fixed client id, clean_session=False), reconnecting.

With a persistent session the broker queues QoS1 messages while the hub restarts (mosquitto:
raise ``max_queued_messages``, see deploy/mosquitto.conf). With a share group, status and events
are load-shared between hubs; presence and births go to every hub (shared subscriptions get no
retained messages, and every hub needs the inventory).
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable

import aiomqtt

from campusguard.mqtt import tls_parameters
from contract import MessageType, TopicTree
from hub.settings import MqttSettings

log = logging.getLogger(__name__)

OnMessage = Callable[[str, bytes], Awaitable[None]]
ClientFactory = Callable[..., aiomqtt.Client]


class MqttLink:
    """Receives agents' messages and publishes acks and commands."""

    def __init__(
        self, settings: MqttSettings, on_message: OnMessage, client_factory: ClientFactory = aiomqtt.Client
    ) -> None:
        self.settings = settings
        self.on_message = on_message
        self.client_factory = client_factory
        self.tree = TopicTree(settings.topic_prefix)
        self.connected = asyncio.Event()
        self._client: aiomqtt.Client | None = None

    def subscriptions(self) -> list[tuple[str, int]]:
        """The topic filters, shared for status and events when a share group is set."""
        group = self.settings.share_group
        return [
            (self.tree.subscription(MessageType.PRESENCE), 1),
            (self.tree.subscription(MessageType.BIRTH), 1),
            (self.tree.subscription(MessageType.STATUS, group), 1),
            (self.tree.subscription(MessageType.EVENT, group), 1),
            (self.tree.subscription(MessageType.IMAGE), 1),  # every hub: the one that asked may be any
        ]

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

    def _client_for(self) -> aiomqtt.Client:
        s = self.settings
        tls = None
        if s.tls:
            tls = tls_parameters(s.ca_file, s.cert_file, s.key_file)
        return self.client_factory(
            s.host,
            s.port,
            username=s.username,
            password=s.resolve_password(),
            identifier=s.client_id,
            clean_session=s.clean_session,
            keepalive=s.keepalive_s,
            tls_params=tls,
            timeout=10,
        )

    async def run(self, stop: asyncio.Event) -> None:
        """Stay connected until ``stop`` is set, feeding every message to ``on_message``."""
        backoff, outage_logged = 0.25, False
        while not stop.is_set():
            try:
                async with self._client_for() as client:
                    await client.subscribe(self.subscriptions())
                    self._client = client
                    self.connected.set()
                    if outage_logged:
                        log.info("broker %s:%s reachable again", self.settings.host, self.settings.port)
                    backoff, outage_logged = 0.25, False
                    await self._receive(client, stop)
                    return
            except aiomqtt.MqttError as exc:
                if not outage_logged:
                    log.warning("broker %s:%s unavailable: %s", self.settings.host, self.settings.port, exc)
                    outage_logged = True
            finally:
                self._client = None
                self.connected.clear()
            try:
                async with asyncio.timeout(backoff):
                    await stop.wait()
            except TimeoutError:
                pass
            backoff = min(backoff * 2, 5.0)

    async def _receive(self, client: aiomqtt.Client, stop: asyncio.Event) -> None:
        async def reader() -> None:
            async for message in client.messages:
                payload = message.payload
                data = payload if isinstance(payload, bytes) else str(payload or "").encode()
                await self.on_message(message.topic.value, data)

        task = asyncio.create_task(reader(), name="mqtt-reader")
        stopper = asyncio.create_task(stop.wait(), name="mqtt-stop")
        try:
            await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopper.cancel()
            if not task.done():
                task.cancel()
            await asyncio.gather(task, stopper, return_exceptions=True)
        error = task.exception() if task.done() and not task.cancelled() else None
        if error is not None:
            raise error
