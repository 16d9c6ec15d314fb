"""The live stream (SSE) against a real uvicorn-served hub, and escalation of unacknowledged alarms.

The stream is read with httpx streaming, as a console would: no polling of the REST API for what
the stream must deliver.
"""

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from agent.runtime import Agent
from contract.messages import utc_now
from hub import live
from simulator.thread import SimulatorThread
from tests.hub.support import (
    TEST_PASSWORD,
    RunningHub,
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


@dataclass(frozen=True)
class Frame:
    """One server-sent event."""

    id: int | None
    type: str
    data: dict[str, Any]


class Stream:
    """An open ``GET /api/v1/stream``, parsed frame by frame."""

    def __init__(self, lines: AsyncIterator[str]) -> None:
        self._lines = lines
        self.frames: list[Frame] = []

    async def next(self, timeout_s: float) -> Frame:
        """The next event frame (comments and retry lines skipped)."""
        async with asyncio.timeout(timeout_s):
            fields: dict[str, str] = {}
            async for line in self._lines:
                if line == "":
                    if "event" in fields:
                        frame = Frame(
                            int(fields["id"]) if "id" in fields else None,
                            fields["event"],
                            json.loads(fields.get("data", "{}")),
                        )
                        self.frames.append(frame)
                        return frame
                    fields = {}
                    continue
                if line.startswith(":"):
                    continue
                name, _, value = line.partition(":")
                fields[name] = value.removeprefix(" ")
        raise AssertionError("the stream ended")

    async def wait_for(self, match: Callable[[Frame], bool], timeout_s: float) -> Frame:
        """Read until a frame matches; fail after ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        while True:
            frame = await self.next(max(deadline - time.monotonic(), 0.001))
            if match(frame):
                return frame


@contextlib.asynccontextmanager
async def open_stream(hub: RunningHub, last_event_id: int | None = None) -> AsyncIterator[Stream]:
    """Connect to the stream (optionally resuming); disconnect on exit."""
    headers = {"Last-Event-ID": str(last_event_id)} if last_event_id is not None else {}
    async with hub.http.stream("GET", "/api/v1/stream", headers=headers, timeout=httpx.Timeout(10, read=30)) as rsp:
        assert rsp.status_code == 200 and rsp.headers["content-type"].startswith("text/event-stream")
        yield Stream(rsp.aiter_lines())


def panic(frame: Frame) -> bool:
    """An alarm frame about the panic button."""
    return frame.type == "alarm" and frame.data["kind"] == "panic"


async def test_stream_pushes_alarms_and_replays_missed_changes_across_a_restart(
    mosquitto: Mosquitto, db_url: str, tmp_path: Path
) -> None:
    prefix = unique_prefix()
    settings = hub_settings(mosquitto.url, db_url, prefix)
    sim = SimulatorThread(sim_config([("panic-1", "panic")]))
    await sim.start()
    agent = Agent(agent_config(sim, mosquitto.url, tmp_path / "spool.db", prefix))
    stop = asyncio.Event()
    try:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(agent.run(stop))
            async with running_hub(settings) as hub:

                async def online() -> bool:
                    return (await hub.get("/api/v1/devices", availability="online"))["total"] == 1

                await eventually(online, 10)
                async with open_stream(hub) as stream:
                    pressed = time.monotonic()
                    await act(sim, "panic-1", "press")
                    raised = await stream.wait_for(panic, 1.0)
                    assert time.monotonic() - pressed < 1.0
                    assert raised.data["state"] == "raised" and raised.data["device_id"] == "panic-1"
                    assert raised.id is not None
                alarm_id = raised.data["id"]

                # Disconnected: the alarm is acknowledged meanwhile.
                response = await hub.post(f"/api/v1/alarms/{alarm_id}/acknowledge", {"note": "on my way"})
                assert response.status_code == 200, response.text
                async with open_stream(hub, raised.id) as stream:
                    missed = await stream.wait_for(panic, 2)
                    assert missed.data["state"] == "acknowledged" and missed.data["acknowledged_by"] == "test-admin"
                    assert missed.id is not None and missed.id > raised.id
                seen_before_restart = missed.id

                # Disconnected again: the button is reset at the device, then the hub restarts.
                await act(sim, "panic-1", "release")
                await act(sim, "panic-1", "reset")

                async def reset_stored() -> bool:
                    return (await hub.get(f"/api/v1/alarms/{alarm_id}"))["reset_at"] is not None

                await eventually(reset_stored, 5)

            async with running_hub(settings) as hub:  # same database, same port: a restarted hub
                async with open_stream(hub, seen_before_restart) as stream:
                    replayed = await stream.wait_for(panic, 2)
                    assert replayed.id is not None and replayed.id > seen_before_restart
                    assert replayed.data["id"] == alarm_id and replayed.data["reset_at"] is not None
                    assert replayed.data["state"] == "acknowledged"
                    # ... and the stream goes on live after the replay, with ids still growing.
                    response = await hub.post(f"/api/v1/alarms/{alarm_id}/resolve", {"note": "误按，已复位"})
                    assert response.status_code == 200, response.text
                    resolved = await stream.wait_for(lambda f: panic(f) and f.data["state"] == "resolved", 2)
                    assert resolved.id is not None and resolved.id > replayed.id
                    assert resolved.data["resolve_note"] == "误按，已复位"
                ids = [f.id for f in stream.frames if f.id is not None]
                assert ids == sorted(ids) and len(set(ids)) == len(ids), "replay sends each change once, in order"
            stop.set()
    finally:
        await sim.stop()


async def test_unacknowledged_alarm_escalates_after_the_configured_time(
    mosquitto: Mosquitto, db_url: str, tmp_path: Path
) -> None:
    escalate_s = 0.6
    prefix = unique_prefix()
    settings = hub_settings(mosquitto.url, db_url, prefix, alarms={"escalate_after_s": escalate_s})
    sim = SimulatorThread(sim_config([("panic-1", "panic")]))
    await sim.start()
    agent = Agent(agent_config(sim, mosquitto.url, tmp_path / "spool.db", prefix))
    stop = asyncio.Event()
    try:
        async with running_hub(settings) as hub, asyncio.TaskGroup() as tg:
            tg.create_task(agent.run(stop))

            async def online() -> bool:
                return (await hub.get("/api/v1/devices", availability="online"))["total"] == 1

            await eventually(online, 10)
            async with open_stream(hub) as stream:
                await act(sim, "panic-1", "press")
                raised = await stream.wait_for(panic, 1.0)
                assert raised.data["escalation_level"] == 0
                started = time.monotonic()
                level_1 = await stream.wait_for(lambda f: panic(f) and f.data["escalation_level"] == 1, escalate_s + 1)
                waited = time.monotonic() - started
                assert waited >= escalate_s - 0.3, "escalated too early"  # the raise took part of the period
                assert level_1.data["state"] == "raised" and level_1.data["escalated_at"] is not None
                await stream.wait_for(lambda f: panic(f) and f.data["escalation_level"] == 2, escalate_s + 1)

                response = await hub.post(f"/api/v1/alarms/{raised.data['id']}/acknowledge", {"note": "seen"})
                assert response.status_code == 200, response.text
                await stream.wait_for(lambda f: panic(f) and f.data["state"] == "acknowledged", 2)
                await asyncio.sleep(2 * escalate_s)  # an acknowledged alarm escalates no further
            alarm = await hub.get(f"/api/v1/alarms/{raised.data['id']}")
            assert alarm["escalation_level"] == 2 and alarm["state"] == "acknowledged"
            stop.set()
    finally:
        await sim.stop()


async def test_stream_carries_only_the_callers_schools(mosquitto: Mosquitto, tmp_path: Path) -> None:
    settings = hub_settings(mosquitto.url, f"sqlite:///{tmp_path / 'hub.db'}", unique_prefix())
    async with running_hub(settings) as hub, httpx.AsyncClient(base_url=str(hub.http.base_url)) as guard:
        create_account(hub.services, "guard-a", "guard", schools=["school-a"])
        response = await guard.post("/api/v1/auth/login", json={"username": "guard-a", "password": TEST_PASSWORD})
        assert response.status_code == 200

        def record(*schools: str) -> list[live.LiveEvent]:
            with hub.services.sessions.begin() as db:
                return live.record(
                    db, [("alarm", {"school_id": s, "id": f"{s}-{i}"}) for i, s in enumerate(schools)], utc_now()
                )

        record("school-b", "school-a")  # before the stream opens: replayed after Last-Event-ID 0
        headers, timeout = {"Last-Event-ID": "0"}, httpx.Timeout(10, read=30)
        async with guard.stream("GET", "/api/v1/stream", headers=headers, timeout=timeout) as rsp:  # the cookie
            assert rsp.status_code == 200
            stream = Stream(rsp.aiter_lines())
            assert (await stream.next(5)).data["school_id"] == "school-a"
            for event in record("school-b", "school-b", "school-a"):
                hub.services.live.publish(event)
            later = await stream.next(5)
            assert (later.data["school_id"], later.data["id"]) == ("school-a", "school-a-2")
        csrf = guard.cookies["cg_csrf"]
        assert (await guard.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf})).status_code == 204
        assert (await guard.get("/api/v1/stream")).status_code == 401
