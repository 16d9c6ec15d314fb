"""Several hubs on one PostgreSQL: a console on any hub sees the changes every hub commits, once.

Two real hubs (the same database and broker, one ``$share`` group); an acknowledgement made through
hub A reaches a stream opened on hub B, and A's own stream gets it once, not again from the tail."""

import asyncio
import json
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from typing import Any

import pytest

from hub.db.models import Alarm, School
from tests.hub.conftest import Postgres
from tests.hub.support import RunningHub, hub_settings, running_hub, unique_prefix
from tests.support.servers import Mosquitto

pytestmark = pytest.mark.integration


async def alarm_events(hub: RunningHub, seen: list[dict[str, Any]], ready: asyncio.Event) -> None:
    """Read the hub's live stream, keeping every alarm change (with its id)."""
    async with hub.http.stream("GET", "/api/v1/stream", timeout=None) as rsp:
        ready.set()
        event, ident = "", ""
        async for line in rsp.aiter_lines():
            if line.startswith("id: "):
                ident = line[4:]
            elif line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: ") and event == "alarm":
                seen.append({"stream_id": int(ident), **json.loads(line[6:])})


async def test_a_change_made_through_one_hub_reaches_every_hub_s_consoles_once(
    mosquitto: Mosquitto, postgres: Postgres
) -> None:
    url, prefix = postgres.create_database(), unique_prefix()
    settings = [hub_settings(mosquitto.url, url, prefix, mqtt={"share_group": "hubs"}) for _ in range(2)]
    async with AsyncExitStack() as stack:
        a = await stack.enter_async_context(running_hub(settings[0]))
        b = await stack.enter_async_context(running_hub(settings[1]))
        now = datetime.now(UTC)
        with a.services.sessions.begin() as db:
            db.add(School(id="s1", first_seen=now))
            db.add(Alarm(
                id="al-1", school_id="s1", gateway_id="gw", device_id="box", kind="device_offline",
                severity="major", state="raised", condition="active", raised_at=now, received_at=now,
            ))  # fmt: skip
        on_a: list[dict[str, Any]] = []
        on_b: list[dict[str, Any]] = []
        ready = [asyncio.Event(), asyncio.Event()]
        readers = [
            asyncio.create_task(alarm_events(a, on_a, ready[0])),
            asyncio.create_task(alarm_events(b, on_b, ready[1])),
        ]
        try:
            await asyncio.wait_for(asyncio.gather(*(r.wait() for r in ready)), 10)
            await asyncio.sleep(0.5)  # both tails have taken the newest id as their start
            done = await a.http.post("/api/v1/alarms/al-1/acknowledge", json={"note": "seen on A"})
            assert done.status_code == 200, done.text
            for _ in range(100):
                if on_b:
                    break
                await asyncio.sleep(0.05)
            assert [(e["id"], e["state"]) for e in on_b] == [("al-1", "acknowledged")]  # B's console heard it
            await asyncio.sleep(1.0)  # several tail periods: A's tail must not send its own change again
            assert [(e["id"], e["state"]) for e in on_a] == [("al-1", "acknowledged")]
            assert on_a[0]["stream_id"] == on_b[0]["stream_id"]  # one change, one id, whichever hub
            assert len(on_b) == 1
        finally:
            for reader in readers:
                reader.cancel()
            await asyncio.gather(*readers, return_exceptions=True)
