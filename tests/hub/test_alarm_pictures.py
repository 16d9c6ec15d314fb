"""A panic press comes with a picture from the camera that sees the box: real mosquitto, a simulated
panic box and MJPEG camera, the agent and the hub (SQLite and PostgreSQL). The picture is kept as
the alarm's, announced on the live stream, and served only within the caller's scope."""

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from agent.capture import MAX_AT_ONCE, Captures
from agent.runtime import Agent
from contract import Command
from contract.messages import utc_now
from simulator.config import SimConfig
from simulator.thread import SimulatorThread
from tests.hub.support import (
    PROFILES,
    RunningHub,
    act,
    agent_data,
    create_account,
    eventually,
    hub_settings,
    running_hub,
    unique_prefix,
)
from tests.support.servers import Mosquitto, free_port

pytestmark = pytest.mark.integration


def sim_with_camera(camera_port: int) -> SimConfig:
    return SimConfig.model_validate(
        {
            "servers": [{"id": "bus", "devices": [{"id": "panic-1", "profile": PROFILES["panic"], "unit_id": 1}]}],
            "cameras": [{"id": "cam-gate", "port": camera_port, "onvif": False, "username": None, "password": None}],
        }
    )


def agent_with_camera(sim: SimulatorThread, broker: str, tmp_path: Path, prefix: str, camera_port: int) -> Any:
    from agent.config import AgentConfig

    data = agent_data(sim, broker, tmp_path / "spool.db", prefix)
    data["devices"] = [
        {**d, "cameras": ["cam-gate"]} for d in data["devices"] if d["id"] == "panic-1"
    ] + [
        {"id": "cam-gate", "profile": "camera/generic-mjpeg", "address": f"http://127.0.0.1:{camera_port}/mjpeg",
         "interval_s": 30, "location": "门卫室"},
    ]  # fmt: skip
    data["cameras"] = {"snapshot_dir": str(tmp_path / "snapshots"), "cpu_budget_cores": 1.0}
    return AgentConfig.model_validate(data)


async def pictures(hub: RunningHub, alarm_id: str, token: str | None = None) -> list[dict[str, Any]]:
    headers = {"Authorization": f"Bearer {token}"} if token else None
    rsp = await hub.http.get(f"/api/v1/alarms/{alarm_id}/pictures", headers=headers)
    return rsp.json() if rsp.status_code == 200 else []


@contextlib.asynccontextmanager
async def camera_system(
    mosquitto: Mosquitto, db_url: str, tmp_path: Path, **sections: Any
) -> AsyncIterator[tuple[RunningHub, SimulatorThread, int]]:
    """The hub (``sections`` of its settings), a simulated panic box and MJPEG camera, and the agent
    polling both: yielded with both devices online, and the camera's port."""
    prefix, camera_port = unique_prefix(), free_port()
    sim = SimulatorThread(sim_with_camera(camera_port))
    await sim.start()
    agent = Agent(agent_with_camera(sim, mosquitto.url, tmp_path, prefix, camera_port))
    stop = asyncio.Event()
    try:
        async with (
            running_hub(hub_settings(mosquitto.url, db_url, prefix, **sections)) as hub,
            asyncio.TaskGroup() as tg,
        ):
            tg.create_task(agent.run(stop))

            async def both_online() -> bool:
                return (await hub.get("/api/v1/devices", availability="online"))["total"] == 2

            try:
                await eventually(both_online, 20)
                yield hub, sim, camera_port
            finally:
                stop.set()
    finally:
        await sim.stop()


async def test_a_panic_press_shows_the_linked_camera_s_picture_within_3_s(
    mosquitto: Mosquitto, db_url: str, tmp_path: Path
) -> None:
    async with camera_system(mosquitto, db_url, tmp_path, alarms={"escalate_after_s": 0.5}) as (hub, sim, _):
        pressed = time.monotonic()
        await act(sim, "panic-1", "press")

        async def raised() -> str | None:
            items = (await hub.get("/api/v1/alarms", kind="panic"))["items"]
            return str(items[0]["id"]) if items else None

        alarm_id = await eventually(raised, 3)
        found = await eventually(lambda: pictures(hub, alarm_id), 3)
        assert time.monotonic() - pressed < 3.0, "the picture must be beside the alarm within 3 s"
        assert [(p["device_id"], p["image_id"]) for p in found] == [("cam-gate", found[0]["image_id"])]
        jpeg = await hub.http.get(found[0]["url"])
        assert jpeg.status_code == 200 and jpeg.content[:2] == b"\xff\xd8"
        assert jpeg.headers["content-type"] == "image/jpeg"

        # Escalations re-send the raised alarm: still one picture per camera, not one per level.
        await asyncio.sleep(1.5)
        assert len(await pictures(hub, alarm_id)) == 1
        # Another school's guard sees neither the alarm nor its pictures.
        _, other = create_account(hub.services, "guard-b", "guard", schools=["school-b"])
        forbidden = await hub.http.get(found[0]["url"], headers={"Authorization": f"Bearer {other}"})
        assert forbidden.status_code == 404
        # A picture of the alarm is its own; another image id under this alarm is not found.
        assert (await hub.http.get(f"/api/v1/alarms/{alarm_id}/pictures/nope")).status_code == 404

        # The live view: the camera's frame now, relayed by the hub; viewers share a frame a second.
        live = "/api/v1/schools/school-a/devices/cam-gate/live.jpg"
        first, second = await asyncio.gather(hub.http.get(live), hub.http.get(live))
        assert first.status_code == second.status_code == 200 and first.content[:2] == b"\xff\xd8"
        assert first.content == second.content  # one capture for both viewers
        await asyncio.sleep(1.1)
        third = await hub.http.get(live)
        assert third.status_code == 200 and third.headers["cache-control"] == "no-store"
        assert (await hub.http.get("/api/v1/schools/school-a/devices/panic-1/live.jpg")).status_code == 404
        blocked = await hub.http.get(live, headers={"Authorization": f"Bearer {other}"})
        assert blocked.status_code == 404  # another school's guard


class FakeCamera:
    def __init__(self, behaviour: str) -> None:
        self.behaviour = behaviour
        self.release = asyncio.Event()

    async def picture(self) -> bytes | None:
        if self.behaviour == "hang":
            await self.release.wait()
        if self.behaviour == "raise":
            raise RuntimeError("OpenCV: cannot open stream")
        return b"\xff\xd8 a jpeg" if self.behaviour == "ok" else None


async def test_every_capture_is_answered_even_when_the_camera_fails_or_is_not_one() -> None:
    sent: list[str] = []
    cameras: dict[str, FakeCamera] = {"ok": FakeCamera("ok"), "dark": FakeCamera("none"), "bad": FakeCamera("raise")}
    kept: list[tuple[str, str]] = []
    captures = Captures(cameras.get, sent.append, lambda cam, _jpeg, _at, image: kept.append((cam, image)))

    def command(device: str, image: str) -> Command:
        return Command(command_id=image, ts=utc_now(), name="image", device_id=device, image_id=image, capture=True)

    for device in ("ok", "dark", "bad", "panic-1"):  # panic-1: not a camera of this gateway (a forged ask)
        captures.start(command(device, f"img-{device}"))
    await asyncio.gather(*captures.tasks)
    assert sorted(sent) == ["img-bad", "img-dark", "img-ok", "img-panic-1"]  # the hub never waits in vain
    assert (captures.taken, captures.failed) == (1, 3)
    assert kept == [("ok", "img-ok")]  # an alarm's picture is kept on disk
    captures.start(command("ok", "live.ok.1"))  # a live frame is kept in memory only
    await asyncio.gather(*captures.tasks)
    assert kept == [("ok", "img-ok")] and captures.recent("live.ok.1") is not None
    # A camera that hangs holds a slot; past MAX_AT_ONCE the rest are answered at once, without a picture.
    cameras["slow"] = FakeCamera("hang")
    for n in range(MAX_AT_ONCE + 2):
        captures.start(command("slow", f"slow-{n}"))
    assert len(captures.tasks) == MAX_AT_ONCE and sent[-2:] == [f"slow-{MAX_AT_ONCE}", f"slow-{MAX_AT_ONCE + 1}"]
    await captures.close()
    assert not captures.tasks


def test_a_link_to_something_that_is_not_a_camera_stops_the_agent_with_one_line(tmp_path: Path) -> None:
    from pydantic import ValidationError

    from agent.config import AgentConfig
    from agent.errors import ConfigError

    def config(cameras: list[str]) -> AgentConfig:
        return AgentConfig.model_validate(
            {
                "school_id": "s",
                "gateway_id": "g",
                "spool": {"path": str(tmp_path / "spool.db")},
                "devices": [
                    {"id": "box", "profile": PROFILES["panic"], "address": "tcp://127.0.0.1:1502", "cameras": cameras},
                    {"id": "box-2", "profile": PROFILES["panic"], "address": "tcp://127.0.0.1:1502", "unit_id": 2},
                ],
            }
        )

    with pytest.raises(ValidationError, match="cameras: 'cam-x' is not another device of this agent"):
        config(["cam-x"])
    with pytest.raises(ValidationError, match="cameras: 'box' is not another device"):
        config(["box"])
    with pytest.raises(ConfigError, match="device box: cameras: box-2: not an enabled camera"):
        Agent(config(["box-2"]))


def test_a_capture_is_an_image_command_an_older_agent_answers_without_a_picture() -> None:
    import json

    from pydantic import ValidationError

    from contract import MessageType, decode

    ask = {
        "schema_version": "1.3", "command_id": "c-1", "ts": "2026-11-28T04:00:00Z", "name": "image",
        "device_id": "cam-gate", "image_id": "a0123.0", "capture": True,
    }  # fmt: skip
    command = decode(MessageType.COMMAND, json.dumps(ask).encode(), Command)
    assert command.capture is True and command.device_id == "cam-gate"
    # A 1.2 agent drops the field it does not know: a plain image request for an id it never kept,
    # answered at once with an image without data (the hub then stops waiting).
    older = {k: v for k, v in ask.items() if k != "capture"}
    assert decode(MessageType.COMMAND, json.dumps(older).encode(), Command).capture is None
    with pytest.raises(ValidationError, match="capture is an image command with device_id"):
        Command(command_id="c", ts=utc_now(), name="probe", capture=True)
    with pytest.raises(ValidationError, match="capture is an image command with device_id"):
        Command(command_id="c", ts=utc_now(), name="image", image_id="x", capture=True)
