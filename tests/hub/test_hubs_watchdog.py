"""Several hubs, and a broker that sends a gateway's heartbeats to one hub only (EMQX's
``hash_clientid``): the sweep leader must not call that gateway silent for want of heartbeats it
was never sent, and the hub that receives them catches a real silence.

EMQX cannot run here. Two real mosquittos stand in for its sticky sharing: the gateway talks to
broker B, whose bridge copies births and presence (which every hub subscribes to) to broker A and
nothing else; hub A (the leader) is on broker A, hub B on broker B, both on one PostgreSQL."""

import asyncio
import os
import signal
import subprocess
import sys
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import pytest
import yaml

from simulator.thread import SimulatorThread
from tests.hub.conftest import Postgres
from tests.hub.support import RunningHub, agent_data, eventually, hub_settings, running_hub, sim_config, unique_prefix
from tests.support.servers import Mosquitto

pytestmark = pytest.mark.integration
SNAPSHOT_S = 1.0  # the agent's heartbeat; the hubs call it silent after 3 missed (3 s: a loaded CI box
# stalls the hubs' shared event loop for a second or so, and that is not the silence this test is about)


def bridged_broker(workdir: Path, to: Mosquitto, prefix: str) -> Mosquitto:
    """Broker B, bridging only what every hub subscribes to (births, presence) to broker A."""
    broker = Mosquitto(workdir)
    with broker.conf.open("a") as conf:
        conf.write(
            f"connection to-broker-a\naddress 127.0.0.1:{to.port}\ncleansession true\n"
            f"topic {prefix}/+/+/birth out 1\ntopic {prefix}/+/+/presence out 1\n"
        )
    return broker.start()


async def gateway_state(hub: RunningHub) -> dict[str, Any]:
    items = (await hub.get("/api/v1/gateways"))["items"]
    assert len(items) <= 1
    return dict(items[0]) if items else {}


async def test_the_leader_leaves_another_hub_s_gateways_to_it_and_that_hub_catches_a_silence(
    mosquitto: Mosquitto, postgres: Postgres, tmp_path: Path
) -> None:
    url, prefix = postgres.create_database(), unique_prefix()
    broker_b = bridged_broker(tmp_path / "broker-b", mosquitto, prefix)
    sim = SimulatorThread(sim_config([("panic-1", "panic")]))
    agent: subprocess.Popen[bytes] | None = None
    try:
        async with AsyncExitStack() as stack:
            a = await stack.enter_async_context(
                running_hub(hub_settings(mosquitto.url, url, prefix, mqtt={"share_group": "hubs"}))
            )
            assert a.services.leader.is_leader  # the first hub up takes the sweep leadership
            b = await stack.enter_async_context(
                running_hub(hub_settings(broker_b.url, url, prefix, mqtt={"share_group": "hubs"}))
            )
            assert a.services.leader.is_leader and not b.services.leader.is_leader
            await sim.start()
            config = tmp_path / "agent.yaml"
            data = agent_data(sim, broker_b.url, tmp_path / "spool.db", prefix)
            data["snapshot_interval_s"] = SNAPSHOT_S
            config.write_text(yaml.safe_dump(data))
            with (tmp_path / "agent.log").open("wb") as log:
                agent = subprocess.Popen(
                    [sys.executable, "-m", "campusguard.cli", "agent", "--config", str(config)],
                    stdout=log, stderr=subprocess.STDOUT,
                )  # fmt: skip

            async def online() -> bool:
                return (await gateway_state(a)).get("availability") == "online"

            await eventually(online, 20)
            assert a.services.ingest.state.knows("school-a", "gw-01")  # A has its birth, through the bridge
            # Many times the watchdog's time: the leader, which gets none of its heartbeats, leaves it be.
            await asyncio.sleep(4 * 3 * SNAPSHOT_S)
            gateway = await gateway_state(b)
            assert (gateway["availability"], gateway["since"]) == ("online", (await gateway_state(a))["since"])
            assert (await a.get("/api/v1/alarms", kind="gateway_offline"))["items"] == []

            # A real silence (a frozen agent: the connection stays up, no last will): hub B catches it.
            os.kill(agent.pid, signal.SIGSTOP)

            async def silent() -> dict[str, Any] | None:
                found = await gateway_state(a)
                return found if found.get("availability") == "offline" else None

            gateway = await eventually(silent, 15)
            assert gateway["reason"] == "heartbeat_timeout"
            os.kill(agent.pid, signal.SIGCONT)
            await eventually(online, 20)  # heartbeats again: B brings it back
    finally:
        if agent is not None and agent.poll() is None:
            agent.send_signal(signal.SIGCONT)
            agent.kill()
            agent.wait()
        try:
            await sim.stop()
        finally:
            broker_b.stop()
