"""End-to-end acknowledgement and hub commands."""

import asyncio
from pathlib import Path

import aiomqtt
import pytest

from contract import Command, MessageType, TopicTree, encode
from contract.messages import utc_now
from tests.agent.harness import agent_config, running, running_agent, sim_config, unique_prefix, watcher
from tests.support.servers import Mosquitto

pytestmark = pytest.mark.integration


async def test_unacked_events_are_resent_and_acked_ones_leave_the_spool(mosquitto: Mosquitto, tmp_path: Path) -> None:
    prefix = unique_prefix()
    async with running(sim_config({"bus": [("p1", "panic")]})) as sim:
        config = agent_config(
            sim, mosquitto, tmp_path, prefix, spool={"path": str(tmp_path / "s.db"), "ack_timeout_s": 1}
        )
        async with watcher(mosquitto, prefix, ack=False) as seen, running_agent(config) as agent:
            await sim.devices["p1"].act("press", {})
            _, raised = await seen.wait_for(lambda e: e.alarm_type == "panic", 3)
            await asyncio.sleep(2.5)
            copies = [e for _, e in seen.events if e.event_id == raised.event_id]
            assert len(copies) >= 2, "an unacked alarm must be sent again"
            assert agent.spool.stats().pending_alarms == 1
        async with watcher(mosquitto, prefix, ack=True) as seen, running_agent(config) as agent:
            await seen.wait_for(lambda e: e.event_id == raised.event_id, 5)  # replayed after restart
            for _ in range(100):
                if agent.spool.stats().pending_events == 0:
                    break
                await asyncio.sleep(0.05)
            assert agent.spool.stats().pending_events == 0


async def test_an_ack_that_comes_back_while_its_batch_is_still_going_out_counts(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    # 40 devices come online at once: one batch of 40 availability events. The watcher acks each as
    # it arrives, so most acks reach the agent before the batch's last publish. They used to be
    # ignored (the batch was marked as published only at its end) and every event went out twice.
    prefix = unique_prefix()
    devices = [(f"f{n}", "fence") for n in range(40)]
    async with running(sim_config({"bus": devices})) as sim:
        config = agent_config(
            sim, mosquitto, tmp_path, prefix, spool={"path": str(tmp_path / "s.db"), "ack_timeout_s": 1}
        )
        async with watcher(mosquitto, prefix, ack=True) as seen, running_agent(config) as agent:
            await seen.wait_for(lambda e: e.device_id == "f39" and e.availability == "online", 10)
            await asyncio.sleep(2.5)  # past ack_timeout_s: anything not taken as acked is sent again
            ids = [e.event_id for _, e in seen.events]
            assert len(ids) >= 40
            assert len(ids) == len(set(ids)), f"{len(ids) - len(set(ids))} events sent twice"
            assert agent.spool.stats().pending_events == 0


async def test_rebirth_and_probe_commands(mosquitto: Mosquitto, tmp_path: Path) -> None:
    prefix = unique_prefix()
    tree = TopicTree(prefix)
    async with (
        running(sim_config({"bus": [("p1", "panic")]})) as sim,
        watcher(mosquitto, prefix) as seen,
        running_agent(agent_config(sim, mosquitto, tmp_path, prefix, interval_s=5.0)) as agent,
    ):
        await seen.wait_for(lambda e: e.availability == "online", 10)
        births = sum(1 for _, kind, _ in seen.other if kind == "birth")
        polls = agent.devices["p1"].loop.polls  # type: ignore[union-attr]
        async with aiomqtt.Client("127.0.0.1", mosquitto.port) as hub:
            topic = tree.topic("school-t", "gw-t", MessageType.COMMAND)
            await hub.publish(topic, encode(Command(command_id="c1", ts=utc_now(), name="rebirth")), qos=1)
            await hub.publish(
                topic, encode(Command(command_id="c2", ts=utc_now(), name="probe", device_id="p1")), qos=1
            )
            await hub.publish(topic, b'{"schema_version": "1.0", "name": "self_destruct"}', qos=1)
        await asyncio.sleep(1.0)
        assert sum(1 for _, kind, _ in seen.other if kind == "birth") == births + 1
        assert agent.devices["p1"].loop.polls > polls  # probed well before the 5 s interval  # type: ignore[union-attr]
        assert agent.publisher.rejected == 1  # the garbage command was counted and dropped
