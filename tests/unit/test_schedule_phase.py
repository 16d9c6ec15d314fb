"""Modbus devices with one interval share a poll phase, whatever their bus; another interval has its own."""

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from agent.config import AgentConfig
from agent.runtime import Agent
from agent.scheduler import PollLoop, PollPolicy


def test_bus_devices_share_a_phase_per_interval(tmp_path: Path) -> None:
    devices = [
        {"id": f"a{i}", "profile": "fence/generic-dwz4", "address": "tcp://127.0.0.1:1502", "unit_id": i}
        for i in range(1, 4)
    ]
    devices += [
        {"id": f"b{i}", "profile": "fence/generic-dwz4", "address": "tcp://127.0.0.1:1503", "unit_id": i}
        for i in range(1, 4)
    ]
    devices.append(
        {
            "id": "slow",
            "profile": "fence/generic-dwz4",
            "address": "tcp://127.0.0.1:1502",
            "unit_id": 9,
            "interval_s": 5,
        }
    )
    config = AgentConfig.model_validate(
        {
            "school_id": "s",
            "gateway_id": "g",
            "spool": {"path": str(tmp_path / "spool.db")},
            "defaults": {"bus_phase": "shared"},
            "devices": devices,
        }
    )
    agent = Agent(config)
    try:
        offsets = {d: agent._loop_for(agent.devices[d]).start_offset_s for d in agent.devices}
    finally:
        agent.spool.close()
    assert offsets["a1"] == offsets["a2"] == offsets["a3"] == offsets["b1"] == offsets["b2"] == offsets["b3"]
    assert offsets["slow"] is not None and offsets["slow"] != offsets["a1"]  # another interval, another tick
    assert all(o is not None and 0 <= o <= 1.0 for o in offsets.values())


def test_spread_gives_every_device_a_phase_of_its_own(tmp_path: Path) -> None:
    devices = [
        {"id": f"a{i}", "profile": "fence/generic-dwz4", "address": "tcp://127.0.0.1:1502", "unit_id": i}
        for i in range(1, 3)
    ]
    config = AgentConfig.model_validate(
        {
            "school_id": "s",
            "gateway_id": "g",
            "spool": {"path": str(tmp_path / "spool.db")},
            "defaults": {"bus_phase": "spread"},
            "devices": devices,
        }
    )
    agent = Agent(config)
    try:
        assert [agent._loop_for(d).start_offset_s for d in agent.devices.values()] == [None, None]
    finally:
        agent.spool.close()


async def test_a_given_offset_is_the_first_tick() -> None:
    loop = asyncio.get_running_loop()
    polled: list[float] = []

    async def poll() -> dict[str, int]:
        polled.append(loop.time())
        return {}

    poller = PollLoop(
        "d",
        PollPolicy(interval_s=0.2, deadline_s=0.1),
        poll,
        on_success=lambda *_: None,
        on_failure=lambda *_: None,
        now=lambda: datetime.now(UTC),
        start_offset_s=0.15,
    )
    started = loop.time()
    task = asyncio.create_task(poller.run())
    await asyncio.sleep(0.5)
    poller.stop()
    await task
    assert len(polled) >= 2
    assert polled[0] - started >= 0.14  # not before its offset
    assert polled[1] - polled[0] >= 0.15  # the next tick one interval on, not at once
