"""Run simulators and an agent in-process against a real broker, and watch the broker."""

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiomqtt

from agent.config import AgentConfig
from agent.runtime import Agent
from campusguard.tasks import cancel_and_wait
from contract import Ack, Event, MessageType, TopicTree, decode, encode
from contract.messages import utc_now
from simulator.config import SimConfig
from simulator.run import Simulator
from tests.support.servers import Mosquitto

PROFILES = {
    "panic": "one_click_alarm/generic-ykb100",
    "fence": "fence/generic-dwz4",
    "gate": "access_gate/generic-mj200",
}


def unique_prefix() -> str:
    """A topic prefix of the test's own, so tests can share one broker."""
    return f"t{uuid.uuid4().hex[:10]}/v1"


def sim_config(buses: dict[str, list[tuple[str, str]]], framer: str = "tcp") -> SimConfig:
    """Simulated buses: {bus id: [(device id, profile key), ...]}; unit ids count from 1."""
    servers = [
        {
            "id": bus,
            "framer": framer,
            "devices": [{"id": d, "profile": PROFILES[k], "unit_id": i} for i, (d, k) in enumerate(devices, 1)],
        }
        for bus, devices in buses.items()
    ]
    return SimConfig.model_validate({"servers": servers})


def agent_config(
    sim: Simulator, broker: Mosquitto, tmp: Path, prefix: str, interval_s: float = 0.2, **extra: Any
) -> AgentConfig:
    """An agent polling every simulated device."""
    devices = [
        {"id": d.id, "profile": d.profile.ref, "address": d.address, "unit_id": d.unit_id, "location": "test"}
        for d in sim.devices.values()
    ]
    data: dict[str, Any] = {
        "school_id": "school-t",
        "gateway_id": "gw-t",
        "mqtt": {"url": broker.url, "topic_prefix": prefix, "keepalive_s": 10},
        "spool": {"path": str(tmp / "spool.db"), "ack_timeout_s": 5},
        "snapshot_interval_s": 1,
        "defaults": {"interval_s": interval_s, "timeout_s": min(0.15, interval_s * 0.75), "max_backoff_s": 2},
        "devices": devices,
    }
    data.update(extra)
    return AgentConfig.model_validate(data)


@dataclass
class Received:
    """Messages seen by the watcher, with arrival times."""

    events: list[tuple[float, Event]] = field(default_factory=list)
    other: list[tuple[float, str, dict[str, Any]]] = field(default_factory=list)
    new_event: asyncio.Event = field(default_factory=asyncio.Event)

    def alarms(self, device: str | None = None, alarm_type: str | None = None) -> list[Event]:
        """Alarm events, optionally of one device and type."""
        return [
            e
            for _, e in self.events
            if e.is_alarm and device in (None, e.device_id) and alarm_type in (None, e.alarm_type)
        ]

    async def wait_for(self, predicate: Any, timeout_s: float) -> tuple[float, Event]:
        """Wait until an event matching ``predicate`` has arrived; return it with its arrival time."""
        deadline = time.monotonic() + timeout_s
        while True:
            for arrived, event in self.events:
                if predicate(event):
                    return arrived, event
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no matching event within {timeout_s} s; got {[e.type for _, e in self.events]}")
            self.new_event.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(remaining):
                    await self.new_event.wait()


@contextlib.asynccontextmanager
async def watcher(broker: Mosquitto, prefix: str, ack: bool = True) -> AsyncIterator[Received]:
    """Subscribe to everything under the prefix like a hub; ack events when ``ack`` is set."""
    received = Received()
    tree = TopicTree(prefix)
    async with aiomqtt.Client("127.0.0.1", broker.port, identifier=f"watch-{uuid.uuid4().hex[:8]}") as client:
        await client.subscribe(f"{prefix}/#", qos=1)

        async def loop() -> None:
            async for message in client.messages:
                topic = tree.parse(message.topic.value)
                payload = message.payload if isinstance(message.payload, bytes) else b""
                now = time.monotonic()
                if topic.message_type == MessageType.EVENT:
                    event = decode(MessageType.EVENT, payload, Event)
                    received.events.append((now, event))
                    received.new_event.set()
                    if ack:
                        reply = encode(Ack(ts=utc_now(), event_ids=[event.event_id]))
                        await client.publish(
                            tree.topic(topic.school_id, topic.gateway_id, MessageType.ACK), reply, qos=1
                        )
                elif topic.message_type != MessageType.ACK:
                    received.other.append((now, topic.message_type.value, json.loads(payload)))

        task = asyncio.create_task(loop())
        try:
            yield received
        finally:
            await cancel_and_wait(task)  # it acks with QoS 1 publishes, where one cancel can get lost
            with contextlib.suppress(asyncio.CancelledError):
                await task


@contextlib.asynccontextmanager
async def running(sim_cfg: SimConfig) -> AsyncIterator[Simulator]:
    """A started simulator."""
    sim = Simulator(sim_cfg)
    await sim.start()
    try:
        yield sim
    finally:
        await sim.stop()


@contextlib.asynccontextmanager
async def running_agent(config: AgentConfig) -> AsyncIterator[Agent]:
    """A running in-process agent; stopped cleanly at exit."""
    agent = Agent(config)
    stop = asyncio.Event()
    task = asyncio.create_task(agent.run(stop))
    try:
        async with asyncio.timeout(10):
            await agent.publisher.connected.wait()
        yield agent
    finally:
        stop.set()
        async with asyncio.timeout(20):
            await task
