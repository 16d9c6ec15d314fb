"""A real agent and a real hub on a three-node NATS cluster (Debian's nats-server, MQTT 3.1.1).

The agent starts on node 0 and the hub on node 2 (``cluster.partitions`` on PostgreSQL): a panic
press reaches the hub. Node 0 is then SIGKILLed; the agent moves to node 1 with its spool, and the
reset and a new press made meanwhile are stored as a second alarm, with the first one reset.
"""

import asyncio
from pathlib import Path
from typing import Any

import pytest

from agent.config import AgentConfig
from tests.agent.harness import agent_config, running, running_agent, sim_config
from tests.hub.conftest import Postgres
from tests.hub.support import eventually, hub_settings, running_hub, unique_prefix
from tests.support.nats import NatsCluster
from tests.support.servers import Mosquitto

pytestmark = pytest.mark.integration


async def test_an_agent_and_a_hub_carry_alarms_through_a_nats_node_s_death(postgres: Postgres, tmp_path: Path) -> None:
    prefix, nats = unique_prefix().replace(".", "-"), NatsCluster(tmp_path / "nats").start()
    try:
        settings = hub_settings(
            nats.urls[2], postgres.create_database(), prefix,
            mqtt={"fallback_urls": nats.urls[:2], "protocol": "3.1.1"}, cluster={"partitions": 8, "check_s": 0.3},
        )  # fmt: skip
        async with running_hub(settings) as hub, running(sim_config({"bus": [("p1", "panic")]})) as sim:
            config = agent_config(sim, Mosquitto(tmp_path / "unused", port=nats.mqtt_ports[0]), tmp_path, prefix)
            mqtt = {**config.mqtt.model_dump(), "fallback_urls": nats.urls[1:]}
            config = config.model_copy(update={"mqtt": type(config.mqtt).model_validate(mqtt)})
            assert isinstance(config, AgentConfig)

            async def panics() -> list[dict[str, Any]]:
                items: list[dict[str, Any]] = (await hub.get("/api/v1/alarms", kind="panic"))["items"]
                return items

            async with running_agent(config) as agent:
                await sim.devices["p1"].act("press", {})
                [first] = await eventually(panics, 20)
                assert (first["state"], first["condition"]) == ("raised", "active")
                nats.kill(0)  # the agent's node
                await sim.devices["p1"].act("release", {})
                await sim.devices["p1"].act("reset", {})
                await asyncio.sleep(1.0)  # a poll or two: the reset is seen before the next press
                await sim.devices["p1"].act("press", {})

                async def two() -> list[dict[str, Any]] | None:
                    found = await panics()
                    return found if len(found) == 2 else None

                alarms = await eventually(two, 40)
                by_id = {a["id"]: a for a in alarms}
                assert by_id[first["id"]]["condition"] == "reset"  # the first press, reset at the box
                assert [a["condition"] for a in alarms if a["id"] != first["id"]] == ["active"]  # a new alarm

                async def spool_empty() -> bool:
                    return agent.spool.stats().pending_events == 0

                await eventually(spool_empty, 20)
    finally:
        nats.stop()
