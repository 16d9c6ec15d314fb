"""Alarms across agent restarts, end to end: simulated box, agent process, hub, pysiaalarm as the police.

Each press after a reset is a new alarm that must reach the police, whatever the agent was doing
when it happened (see tests/faults/support.py for what is counted where).
"""

import asyncio
import contextlib
import os
import random
import socket
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from hub.db.models import StoredEvent
from tests.faults.support import system
from tests.hub.support import eventually
from tests.support.servers import Mosquitto

pytestmark = pytest.mark.integration
# Agent kills per run: a few in `make test`; `make faults` sets more.
ROUNDS = int(os.environ.get("CAMPUSGUARD_FAULT_ROUNDS", "4"))


async def test_a_reset_while_the_agent_is_dead_ends_the_alarm_and_the_next_press_reaches_the_police(
    mosquitto: Mosquitto, db_url: str, tmp_path: Path
) -> None:
    async with system(mosquitto, db_url, tmp_path) as s:
        await s.act("press")
        [first] = await s.settled(1)
        assert first["condition"] == "active"

        s.kill_agent()
        await s.act("release")
        await s.act("reset")
        s.start_agent()

        async def reset_reported() -> dict[str, Any] | None:
            [alarm] = await s.panic_alarms()
            return alarm if alarm["condition"] == "reset" else None

        alarm = await eventually(reset_reported, 20)
        assert (alarm["ended_by"], alarm["detected"]) == ("device", None)  # the reset event marks "restart"
        with s.hub.services.sessions() as db:
            payloads = db.scalars(select(StoredEvent.payload).where(StoredEvent.type == "alarm.reset")).all()
        assert [p.get("detected") for p in payloads] == ["restart"]  # found on the first poll after the restart

        await s.act("press")
        alarms = await s.settled(2)
        assert [a["condition"] for a in alarms] == ["reset", "active"]
        resolved = await s.hub.post(f"/api/v1/alarms/{first['id']}/resolve", {"note": "reset at the box"})
        assert resolved.status_code == 200, resolved.text  # no 409: the hub knows it was reset


async def test_presses_and_resets_while_the_agent_is_dead_each_reach_the_police(
    mosquitto: Mosquitto, db_url: str, tmp_path: Path
) -> None:
    async with system(mosquitto, db_url, tmp_path) as s:
        s.kill_agent()
        for _ in range(2):  # two complete alarms nobody polled, then one still latched
            await s.act("press")
            await s.act("release")
            await s.act("reset")
        await s.act("press")
        s.start_agent()
        alarms = await s.settled(3)
        assert s.presses() == 3
        assert [a["condition"] for a in alarms][-1] == "active"
        assert {a["detected"] for a in alarms} == {"restart"}


async def test_an_agent_that_lost_its_state_is_reconciled_by_its_snapshot(
    mosquitto: Mosquitto, db_url: str, tmp_path: Path
) -> None:
    # The gateway's disk was replaced: no spool, no saved alarm state. The snapshot no longer lists
    # the panic alarm, so the hub ends it, and the next press is a new alarm for the police.
    async with system(mosquitto, db_url, tmp_path) as s:
        await s.act("press")
        await s.settled(1)
        s.kill_agent()
        await s.act("release")
        await s.act("reset")
        for leftover in tmp_path.glob("spool.db*"):
            leftover.unlink()
        s.start_agent()

        async def reconciled() -> dict[str, Any] | None:
            [alarm] = await s.panic_alarms()
            return alarm if alarm["condition"] != "active" else None

        alarm = await eventually(reconciled, 20)
        assert (alarm["condition"], alarm["ended_by"]) == ("reset", "reconciled")
        await s.act("press")
        await s.settled(2)


async def test_presses_around_agent_kills_are_never_lost_or_doubled(
    mosquitto: Mosquitto, db_url: str, tmp_path: Path
) -> None:
    rng = random.Random(20261127)
    async with system(mosquitto, db_url, tmp_path) as s:
        for _ in range(ROUNDS):
            await s.act("press")
            await asyncio.sleep(rng.uniform(0, 0.4))  # before, during or after the poll that sees it
            s.kill_agent()
            await s.act("release")
            await s.act("reset")
            if rng.random() < 0.5:  # sometimes the next press happens while the agent is still dead
                await s.act("press")
                await s.act("release")
                await s.act("reset")
            s.start_agent()
            await s.online()
        await s.settled(s.presses())

        async def all_reset() -> bool:  # every box reset was reported, none left hanging as active
            return all(a["condition"] == "reset" for a in await s.panic_alarms())

        await eventually(all_reset, 10)


async def test_the_agent_process_tells_systemd_it_is_ready_and_alive(
    mosquitto: Mosquitto, db_url: str, tmp_path: Path
) -> None:
    # What deploy/campusguard-agent.service relies on: READY once polling, WATCHDOG while polls finish.
    path = tmp_path / "notify"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as systemd:
        systemd.bind(str(path))
        systemd.setblocking(False)
        async with system(mosquitto, db_url, tmp_path) as s:
            s.kill_agent()
            s.start_agent({"NOTIFY_SOCKET": str(path), "WATCHDOG_USEC": "400000"})
            await s.online()
            said: list[str] = []
            for _ in range(200):  # up to 10 s: the watchdog is fed every 0.2 s while polls finish
                with contextlib.suppress(BlockingIOError):
                    while True:
                        said.append(systemd.recv(200).decode())
                if said.count("WATCHDOG=1") >= 3:
                    break
                await asyncio.sleep(0.05)
            assert said[0].startswith("READY=1\nSTATUS=polling 2 devices"), said
            assert said.count("WATCHDOG=1") >= 3, said
