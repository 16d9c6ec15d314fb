"""Button press to alarm in the API, then acknowledge and resolve: on SQLite and on PostgreSQL."""

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from agent.runtime import Agent
from simulator.thread import SimulatorThread
from tests.hub.support import (
    act,
    agent_config,
    create_account,
    eventually,
    hub_settings,
    running_hub,
    sim_config,
    unique_prefix,
)
from tests.support.servers import Mosquitto

pytestmark = pytest.mark.integration


async def test_panic_press_to_resolved_alarm(mosquitto: Mosquitto, db_url: str, tmp_path: Path) -> None:
    prefix = unique_prefix()
    sim = SimulatorThread(sim_config([("panic-1", "panic"), ("fence-1", "fence")]))
    await sim.start()
    agent = Agent(agent_config(sim, mosquitto.url, tmp_path / "spool.db", prefix))
    stop = asyncio.Event()
    try:
        async with running_hub(hub_settings(mosquitto.url, db_url, prefix)) as hub, asyncio.TaskGroup() as tg:
            tg.create_task(agent.run(stop))

            async def devices_online() -> bool:
                page = await hub.get("/api/v1/devices", school_id="school-a", availability="online")
                return page["total"] == 2

            await eventually(devices_online, 10)
            devices = await hub.get("/api/v1/devices")
            assert {d["id"] for d in devices["items"]} == {"panic-1", "fence-1"}
            assert {d["gateway_id"] for d in devices["items"]} == {"gw-01"}

            pressed = time.monotonic()
            await act(sim, "panic-1", "press")

            async def panic_alarm() -> dict[str, Any] | None:
                page = await hub.get("/api/v1/alarms", state="raised", kind="panic")
                return page["items"][0] if page["items"] else None

            alarm = await eventually(panic_alarm, 1.0, every_s=0.02)
            latency = time.monotonic() - pressed
            assert latency < 1.0
            assert alarm["device_id"] == "panic-1" and alarm["latched"] and alarm["severity"] == "critical"

            # A guard of another school can neither see nor acknowledge it; school A's guard can.
            _, guard_b = create_account(hub.services, "guard-b", "guard", schools=["school-b"])
            other = await hub.http.get(f"/api/v1/alarms/{alarm['id']}", headers={"Authorization": f"Bearer {guard_b}"})
            assert other.status_code == 404
            response = await hub.post(f"/api/v1/alarms/{alarm['id']}/acknowledge", {"note": "x"}, token=guard_b)
            assert response.status_code == 404
            _, guard = create_account(hub.services, "wang", "guard", schools=["school-a"])
            response = await hub.post(
                f"/api/v1/alarms/{alarm['id']}/acknowledge", {"note": "guard on the way", "by": "王"}, token=guard
            )
            assert response.status_code == 200, response.text
            assert response.json()["state"] == "acknowledged" and response.json()["acknowledged_by"] == "wang"

            # Latched (GB 50394 5.2.3): releasing the button is not enough; the console cannot close it yet.
            await act(sim, "panic-1", "release")
            response = await hub.post(f"/api/v1/alarms/{alarm['id']}/resolve", {"note": "false alarm"}, token=guard)
            assert response.status_code == 409 and "reset" in response.json()["detail"]

            await act(sim, "panic-1", "reset")

            async def reset_seen() -> bool:
                return (await hub.get(f"/api/v1/alarms/{alarm['id']}"))["reset_at"] is not None

            await eventually(reset_seen, 5)
            response = await hub.post(
                f"/api/v1/alarms/{alarm['id']}/resolve", {"note": "学生误按，已复位"}, token=guard
            )
            assert response.status_code == 200, response.text
            resolved = response.json()
            assert resolved["state"] == "resolved" and resolved["resolve_note"] == "学生误按，已复位"
            assert resolved["resolved_by"] == "wang"
            assert (await hub.get("/api/v1/alarms", state="open"))["total"] == 0
            # A second resolve is a conflict, not a silent success.
            assert (await hub.post(f"/api/v1/alarms/{alarm['id']}/resolve", {"note": "again"})).status_code == 409
            stop.set()
    finally:
        await sim.stop()
