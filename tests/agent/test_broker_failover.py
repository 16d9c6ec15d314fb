"""An agent with several broker URLs (nodes of one cluster) fails over between them, losing nothing."""

import asyncio
from pathlib import Path

import pytest

from agent.config import MqttSettings
from tests.agent.harness import agent_config, running, running_agent, sim_config, unique_prefix, watcher
from tests.support.servers import Mosquitto, free_port

pytestmark = pytest.mark.integration


async def test_the_agent_moves_to_the_node_that_answers_and_its_spool_goes_with_it(tmp_path: Path) -> None:
    prefix = unique_prefix()
    node_a = Mosquitto(tmp_path / "a", port=free_port())  # not started yet: the first URL is dead
    node_b = Mosquitto(tmp_path / "b").start()
    try:
        async with running(sim_config({"bus": [("p1", "panic")]})) as sim:
            config = agent_config(sim, node_b, tmp_path, prefix)
            mqtt = {**config.mqtt.model_dump(), "url": node_a.url, "fallback_urls": [node_b.url]}
            config = config.model_copy(update={"mqtt": type(config.mqtt).model_validate(mqtt)})
            async with running_agent(config) as agent:
                async with watcher(node_b, prefix) as on_b:
                    await on_b.wait_for(lambda e: e.availability == "online", 10)  # it found node b
                    await sim.devices["p1"].act("press", {})
                    await on_b.wait_for(lambda e: e.alarm_type == "panic" and e.type == "alarm.raised", 5)
                node_b.stop()  # b dies; a comes up: the agent moves back to a
                await sim.devices["p1"].act("release", {})
                await sim.devices["p1"].act("reset", {})  # happens while no node is reachable
                node_a.start()
                async with watcher(node_a, prefix) as on_a:
                    _, reset = await on_a.wait_for(lambda e: e.type == "alarm.reset", 20)
                    assert reset.device_id == "p1"
                    for _ in range(300):  # acked on a: the spool empties
                        if agent.spool.stats().pending_events == 0:
                            break
                        await asyncio.sleep(0.1)
                    assert agent.spool.stats().pending_events == 0
    finally:
        node_a.stop()
        node_b.stop()


def test_a_fallback_that_is_not_a_broker_url_is_refused_with_its_index() -> None:
    with pytest.raises(ValueError, match=r"fallback_urls\.1\n.*must be mqtt://host"):
        MqttSettings(fallback_urls=["mqtt://b:1883", "http://c"])
