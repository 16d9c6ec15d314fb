"""The findings ledger follows the devices through the real pipeline: a simulated box stops
answering, the agent reports it offline, the hub judges its school again and records the failure
with when it began; the box answers again and the finding passes. SQLite and PostgreSQL."""

import asyncio
from pathlib import Path

import pytest

from agent.runtime import Agent
from simulator.thread import SimulatorThread
from tests.hub.support import (
    RunningHub,
    act,
    agent_config,
    eventually,
    hub_settings,
    running_hub,
    sim_config,
    unique_prefix,
)
from tests.support.servers import Mosquitto

pytestmark = pytest.mark.integration

PACK = """pack: test-working
rules:
  - id: T-WORKING
    text_zh: 设备正常工作
    text_en: Every device works
    severity: major
    check: devices_working
    params: {kind: "*", grace_s: 0}
    repair_within_h: 24
    source: {document: test, clause: "1", quote: test, confidence: INF}
"""


async def verdict(hub: RunningHub) -> tuple[str, object] | None:
    rows = await hub.get("/api/v1/compliance/findings", school="school-a")
    row = next((r for r in rows if r["rule_id"] == "T-WORKING"), None)
    return (row["status"], row["since"]) if row else None


async def test_a_box_that_stops_answering_fails_its_rule_until_it_answers_again(
    mosquitto: Mosquitto, db_url: str, tmp_path: Path
) -> None:
    pack, profiles = tmp_path / "pack.yaml", tmp_path / "profiles.yaml"
    pack.write_text(PACK, encoding="utf-8")
    profiles.write_text(
        "schools:\n  - school_id: school-a\n"
        "    points: [{device_id: panic-1, kind: one_click_alarm, location: guard_room}]\n",
        encoding="utf-8",
    )
    prefix = unique_prefix()
    compliance = {"profiles": str(profiles), "packs": [str(pack)], "settle_s": 0.2, "evaluate_every_s": 3600}
    settings = hub_settings(mosquitto.url, db_url, prefix, compliance=compliance)
    sim = SimulatorThread(sim_config([("panic-1", "panic")]))
    await sim.start()
    agent = Agent(agent_config(sim, mosquitto.url, tmp_path / "spool.db", prefix))
    stop = asyncio.Event()
    try:
        async with running_hub(settings) as hub, asyncio.TaskGroup() as tg:
            tg.create_task(agent.run(stop))

            async def recorded(status: str) -> tuple[str, object] | None:
                found = await verdict(hub)
                return found if found and found[0] == status and found[1] is not None else None

            await eventually(lambda: recorded("pass"), 20)  # judged on the device's first change, and recorded
            await act(sim, "panic-1", "go_silent")
            failing = await eventually(lambda: recorded("fail"), 20)
            rows = await hub.get("/api/v1/compliance/findings", school="school-a", status="fail")
            assert rows[0]["evidence"].startswith("offline") and rows[0]["deadline"] is not None
            await act(sim, "panic-1", "recover")
            passing = await eventually(lambda: recorded("pass"), 20)
            assert str(passing[1]) > str(failing[1])  # a new verdict, begun later
            stop.set()
    finally:
        await sim.stop()
