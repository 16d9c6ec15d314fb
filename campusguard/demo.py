"""``campusguard demo``: the whole system on embedded defaults, no setup.

An in-process MQTT broker (amqtt), simulated devices for two schools and one agent per school.
"""

import asyncio
import logging
import signal
import socket
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agent.config import AgentConfig
    from simulator.config import SimConfig

log = logging.getLogger(__name__)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free now on ``host``."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


SCHOOLS = {
    "school-001": "第一实验小学",
    "school-002": "阳光幼儿园",
}


def demo_configs(data_dir: Path, broker_port: int, control_port: int) -> tuple["SimConfig", list["AgentConfig"]]:
    """The simulator config and one agent config per school."""
    from agent.config import AgentConfig
    from simulator.config import SimConfig

    servers = []
    agents = []
    for index, school in enumerate(SCHOOLS, start=1):
        port = free_port()
        devices = [
            {"id": f"s{index}-panic-gate", "profile": "one_click_alarm/generic-ykb100", "unit_id": 1},
            {"id": f"s{index}-panic-office", "profile": "one_click_alarm/generic-ykb100", "unit_id": 2},
            {"id": f"s{index}-fence", "profile": "fence/generic-dwz4", "unit_id": 3},
            {"id": f"s{index}-gate-main", "profile": "access_gate/generic-mj200", "unit_id": 4},
        ]
        servers.append({"id": f"bus-{index}", "port": port, "devices": devices})
        locations = {"panic-gate": "门卫室", "panic-office": "校长室", "fence": "东侧围墙", "gate-main": "校门"}
        agents.append(
            AgentConfig.model_validate(
                {
                    "school_id": school,
                    "gateway_id": "gw-01",
                    "mqtt": {"url": f"mqtt://127.0.0.1:{broker_port}"},
                    "spool": {"path": str(data_dir / f"spool-{school}.db")},
                    "snapshot_interval_s": 5,
                    "defaults": {"interval_s": 0.5, "timeout_s": 0.3},
                    "devices": [
                        {
                            "id": d["id"],
                            "profile": d["profile"],
                            "address": f"tcp://127.0.0.1:{port}",
                            "unit_id": d["unit_id"],
                            "location": locations[str(d["id"]).split("-", 1)[1]],
                        }
                        for d in devices
                    ],
                }
            )
        )
    sim = SimConfig.model_validate({"control_port": control_port, "servers": servers})
    return sim, agents


async def _run(duration_s: float | None, port: int, data_dir: Path) -> None:
    from amqtt.broker import Broker

    from agent.runtime import Agent
    from simulator.run import Simulator

    broker_port = free_port()
    broker = Broker(
        {
            "listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{broker_port}"}},
            "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
        }
    )
    await broker.start()
    sim_config, agent_configs = demo_configs(data_dir, broker_port, 0)
    simulator = Simulator(sim_config)
    await simulator.start()
    print(f"MQTT broker (embedded): mqtt://127.0.0.1:{broker_port}", flush=True)
    print(f"simulator control: {simulator.control_url}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    if duration_s is not None:
        loop.call_later(duration_s, stop.set)
    agents = [Agent(config) for config in agent_configs]
    try:
        async with asyncio.TaskGroup() as tg:
            for agent in agents:
                tg.create_task(agent.run(stop), name=f"agent:{agent.config.school_id}")
    finally:
        await simulator.stop()
        await broker.shutdown()


def run_demo(duration_s: float | None, port: int, data_dir: Path, scenario: str | None) -> int:
    """Run the demo until Ctrl-C or for ``duration_s`` seconds."""
    data_dir.mkdir(parents=True, exist_ok=True)
    asyncio.run(_run(duration_s, port, data_dir))
    return 0
