"""The gateway's uplink cut (network namespaces the test makes): nothing pressed meanwhile is lost or doubled.

The agent runs in a network namespace of its own, like a school gateway: its fieldbus side reaches
the simulated boxes over one veth pair, its uplink reaches the broker over another. Cutting the
uplink (the host end of the pair set down) leaves a half-open TCP connection: no RST, no FIN. The
broker's keep-alive fires the will, the hub shows the gateway offline; presses and resets go on
at the box. When the link comes back, every press reaches the hub and the police once.
"""

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from simulator.thread import SimulatorThread
from tests.forwarding.receiver import account, sia_receiver
from tests.hub.support import eventually, hub_settings, running_hub, sim_config, unique_prefix
from tests.support.servers import Mosquitto

pytestmark = pytest.mark.integration


@dataclass(frozen=True)
class Namespace:
    """A gateway's network namespace: a fieldbus link and an uplink to the host."""

    name: str
    field_host: str  # the host's end of the fieldbus pair (the boxes listen here)
    up_host: str  # the host's end of the uplink (the broker listens here)
    up_device: str  # the host's uplink interface: set it down to cut the gateway off


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


@pytest.fixture
def gateway_ns() -> Iterator[Namespace]:
    n = os.getpid() % 200 + 20
    name, field, up = f"cgw{n}", (f"cgf{n}h", f"cgf{n}g"), (f"cgu{n}h", f"cgu{n}g")
    nets = {field: f"10.213.{n}.", up: f"10.214.{n}."}
    _ip("netns", "add", name)
    try:
        _ip("netns", "exec", name, "ip", "link", "set", "lo", "up")
        for (host_end, gw_end), net in nets.items():
            _ip("link", "add", host_end, "type", "veth", "peer", "name", gw_end)
            _ip("link", "set", gw_end, "netns", name)
            _ip("addr", "add", f"{net}1/30", "dev", host_end)
            _ip("link", "set", host_end, "up")
            _ip("netns", "exec", name, "ip", "addr", "add", f"{net}2/30", "dev", gw_end)
            _ip("netns", "exec", name, "ip", "link", "set", gw_end, "up")
        yield Namespace(name, f"{nets[field]}1", f"{nets[up]}1", up[0])
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False, capture_output=True)
        for host_end in (field[0], up[0]):
            subprocess.run(["ip", "link", "del", host_end], check=False, capture_output=True)


async def test_presses_while_the_uplink_is_cut_all_arrive_once_when_it_heals(
    gateway_ns: Namespace, tmp_path: Path
) -> None:
    broker = Mosquitto(tmp_path / "broker", bind="0.0.0.0").start()
    config = sim_config([("panic-1", "panic")])
    config = config.model_copy(
        update={"servers": [config.servers[0].model_copy(update={"host": gateway_ns.field_host})]}
    )
    sim = SimulatorThread(config)
    await sim.start()
    prefix = unique_prefix()
    agent_yaml = tmp_path / "agent.yaml"
    agent_yaml.write_text(
        yaml.safe_dump(
            {
                "school_id": "school-a",
                "gateway_id": "gw-01",
                "mqtt": {"url": f"mqtt://{gateway_ns.up_host}:{broker.port}", "topic_prefix": prefix, "keepalive_s": 5},
                "spool": {"path": str(tmp_path / "spool.db"), "ack_timeout_s": 3},
                "snapshot_interval_s": 1,
                "defaults": {"interval_s": 0.2, "timeout_s": 0.5},
                "devices": [
                    {
                        "id": "panic-1",
                        "profile": "one_click_alarm/generic-ykb100",
                        "address": sim.devices["panic-1"].address,
                    }
                ],
            }
        )
    )
    agent: subprocess.Popen[bytes] | None = None
    try:
        async with sia_receiver([account("1234")]) as arc:
            forwarding = {
                "receivers": {"arc-1": {"type": "dc09", "host": "127.0.0.1", "port": arc.port, "account": "1234"}},
                "routes": [{"name": "police", "primary": "arc-1"}],
                "schools": {"school-a": {"account": "1234"}},
                "retry": {"initial_s": 0.1, "max_s": 1},
            }
            settings = hub_settings(broker.url, f"sqlite:///{tmp_path / 'hub.db'}", prefix, forwarding=forwarding)
            async with running_hub(settings) as hub:
                cmd = ["ip", "netns", "exec", gateway_ns.name, sys.executable, "-m", "campusguard.cli", "agent"]
                with (tmp_path / "agent.log").open("wb") as log:
                    agent = subprocess.Popen([*cmd, "--config", str(agent_yaml)], stdout=log, stderr=subprocess.STDOUT)

                async def gateway(state: str) -> bool:
                    gateways = (await hub.get("/api/v1/gateways"))["items"]
                    return any(g["availability"] == state for g in gateways)

                await eventually(lambda: gateway("online"), 20)
                _ip("link", "set", gateway_ns.up_device, "down")  # the uplink is cut: no RST, no FIN
                for _ in range(3):
                    await sim.act("panic-1", "press")
                    await asyncio.sleep(0.6)  # seen by the agent's polls, kept in its spool
                    await sim.act("panic-1", "release")
                    await sim.act("panic-1", "reset")
                    await asyncio.sleep(0.6)
                await eventually(lambda: gateway("offline"), 30)  # the will, or the hub's watchdog
                assert sum(1 for e in arc.data_events() if e.code == "PA") == 0
                _ip("link", "set", gateway_ns.up_device, "up")

                async def all_in() -> list[dict[str, Any]] | None:
                    items = (await hub.get("/api/v1/alarms", kind="panic"))["items"]
                    police = sum(1 for e in arc.data_events() if e.code == "PA")
                    return items if len(items) >= 3 and police >= 3 else None

                alarms = await eventually(all_in, 60)
                await asyncio.sleep(2)  # a double would arrive by now
                assert int(sim.devices["panic-1"].values["press_count"]) == 3
                assert len((await hub.get("/api/v1/alarms", kind="panic"))["items"]) == len(alarms) == 3
                assert sum(1 for e in arc.data_events() if e.code == "PA") == 3
                await eventually(lambda: gateway("online"), 30)
    finally:
        if agent is not None and agent.poll() is None:
            agent.send_signal(signal.SIGKILL)
            agent.wait(10)
        await sim.stop()
        broker.stop()
