"""The fault tests' system: a simulated box and neighbour, an agent process, a hub forwarding to pysiaalarm.

Counted at three places with no dedupe of ours: activations at the box (its press counter), panic
alarms in the hub, and PA events pysiaalarm's own callback accepted.
"""

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from simulator.thread import SimulatorThread
from tests.forwarding.receiver import Arc, account, sia_receiver
from tests.hub.support import RunningHub, agent_data, eventually, hub_settings, running_hub, sim_config, unique_prefix
from tests.support.servers import Mosquitto


@dataclass
class System:
    """A box (and a neighbour) on a simulated bus, an agent process, a hub that forwards to pysiaalarm."""

    sim: SimulatorThread
    hub: RunningHub
    arc: Arc
    config: Path
    log: Path
    agent: subprocess.Popen[bytes] | None = None

    def start_agent(self, env: dict[str, str] | None = None) -> None:
        """`campusguard agent` with the same configuration and spool as before."""
        cmd = [sys.executable, "-m", "campusguard.cli", "agent", "--config", str(self.config)]
        with self.log.open("ab") as out:
            self.agent = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})})

    def kill_agent(self) -> None:
        """SIGKILL: no goodbye, whatever the agent was in the middle of."""
        assert self.agent is not None
        self.agent.send_signal(signal.SIGKILL)
        self.agent.wait()

    async def act(self, action: str) -> None:
        """Press, release or reset the box."""
        await self.sim.act("panic-1", action)

    def presses(self) -> int:
        """Activations the box itself counted."""
        return int(self.sim.devices["panic-1"].values["press_count"])

    async def panic_alarms(self) -> list[dict[str, Any]]:
        """The hub's panic alarms, oldest first."""
        return await self.alarms("panic")

    async def alarms(self, kind: str) -> list[dict[str, Any]]:
        """The hub's alarms of one kind, oldest first."""
        items = (await self.hub.get("/api/v1/alarms", kind=kind, limit=500))["items"]
        return sorted(items, key=lambda a: (a["received_at"], a["raised_at"]))

    def police(self) -> int:
        """PA (panic) events the receiver accepted."""
        return sum(1 for e in self.arc.data_events() if e.code == "PA")

    async def online(self) -> None:
        """Wait until the agent is polling and the hub shows the box online."""

        async def box_online() -> bool:
            devices = (await self.hub.get("/api/v1/devices"))["items"]
            return any(d["id"] == "panic-1" and d["availability"] == "online" for d in devices)

        await eventually(box_online, 20)

    async def settled(self, presses: int) -> list[dict[str, Any]]:
        """Wait until the hub and the police each hold ``presses`` panic alarms; return the hub's."""

        async def counted() -> list[dict[str, Any]] | None:
            alarms = await self.panic_alarms()
            return alarms if len(alarms) >= presses and self.police() >= presses else None

        try:
            alarms: list[dict[str, Any]] = await eventually(counted, 20)
        except AssertionError:  # say which count fell short: lost at the hub, or not yet at the police
            found = await self.panic_alarms()
            raise AssertionError(f"{presses} presses: {len(found)} alarms at the hub, {self.police()} PA") from None
        await asyncio.sleep(1.0)  # a double would arrive by now
        assert len(await self.panic_alarms()) == presses, "doubled in the hub"
        assert self.police() == presses, "doubled at the police"
        return alarms


@contextlib.asynccontextmanager
async def system(broker: Mosquitto, db_url: str, tmp: Path, spool: Path | None = None) -> AsyncIterator[System]:
    """Everything running and the box online; the agent's spool at ``spool`` (default: in ``tmp``)."""
    prefix = unique_prefix()
    sim = SimulatorThread(sim_config([("panic-1", "panic"), ("gate-1", "gate")]))
    await sim.start()
    try:
        async with sia_receiver([account("1234")]) as arc:
            receiver = {"type": "dc09", "host": "127.0.0.1", "port": arc.port, "account": "1234"}
            forwarding = {
                "receivers": {"arc-1": receiver},
                "routes": [{"name": "police", "primary": "arc-1"}],
                "schools": {"school-a": {"account": "1234"}},
                "retry": {"initial_s": 0.1, "max_s": 1},
            }
            settings = hub_settings(broker.url, db_url, prefix, forwarding=forwarding)
            async with running_hub(settings) as hub:
                data = agent_data(sim, broker.url, spool or tmp / "spool.db", prefix)
                data["defaults"].update(interval_s=0.2, timeout_s=0.5)
                config = tmp / "agent.yaml"
                config.write_text(yaml.safe_dump(data))
                running = System(sim, hub, arc, config, tmp / "agent.log")
                running.start_agent()
                try:
                    await running.online()
                    yield running
                finally:
                    if running.agent is not None and running.agent.poll() is None:
                        running.kill_agent()
    finally:
        await sim.stop()
