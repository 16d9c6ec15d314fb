"""A blind camera's snapshot reaches the hub: the alarm names it, the hub fetches and keeps the JPEG."""

from pathlib import Path

import pytest

from agent.config import AgentConfig
from hub.db.models import Alarm
from simulator.camera import FakeCamera
from tests.agent.harness import running_agent
from tests.hub.support import eventually, hub_settings, running_hub, unique_prefix
from tests.support.servers import Mosquitto, free_port

pytestmark = pytest.mark.integration


def camera_agent(camera: FakeCamera, broker_url: str, prefix: str, tmp_path: Path) -> AgentConfig:
    """An agent at school-c checking one ONVIF camera fast."""
    return AgentConfig.model_validate(
        {
            "school_id": "school-c",
            "gateway_id": "gw-c",
            "mqtt": {"url": broker_url, "topic_prefix": prefix},
            "spool": {"path": str(tmp_path / "spool.db"), "ack_timeout_s": 3},
            "snapshot_interval_s": 0.5,
            "cameras": {"snapshot_dir": str(tmp_path / "snapshots"), "cpu_budget_cores": 1.0},
            "devices": [
                {
                    "id": "cam-gate",
                    "profile": "camera/generic-onvif",
                    "address": camera.address,
                    "username": "admin",
                    "password_env": "CG_TEST_CAM_PW",
                    "interval_s": 0.3,
                    "location": "校门",
                }
            ],
        }
    )


async def test_blind_camera_alarm_carries_a_snapshot_the_hub_keeps(
    mosquitto: Mosquitto, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CG_TEST_CAM_PW", "pw-123")
    prefix = unique_prefix()
    settings = hub_settings(mosquitto.url, f"sqlite:///{tmp_path / 'hub.db'}", prefix, api={"auth": "off"})
    camera = FakeCamera("cam-gate", port=free_port(), username="admin", password="pw-123", fps=25, onvif=True)
    await camera.start()
    try:
        async with running_hub(settings) as hub:
            async with running_agent(camera_agent(camera, mosquitto.url, prefix, tmp_path)):

                async def camera_online() -> bool:
                    devices = (await hub.get("/api/v1/devices", school_id="school-c"))["items"]
                    return any(d["id"] == "cam-gate" and d["availability"] == "online" for d in devices)

                await eventually(camera_online, 30)
                await camera.act("covered", {})

                async def blind_alarm() -> dict[str, object] | None:
                    items = (await hub.get("/api/v1/alarms", kind="video_blind"))["items"]
                    return items[0] if items else None

                alarm = await eventually(blind_alarm, 30)
                assert alarm["value"] == "covered"  # the fault class, for the console
                assert alarm["image_id"]
                answer = await hub.http.get(f"/api/v1/alarms/{alarm['id']}/snapshot")
                assert answer.status_code == 200, answer.text
                assert answer.headers["content-type"] == "image/jpeg"
                assert answer.content[:2] == b"\xff\xd8"
                taken = answer.content
            # The gateway is gone now: the hub still shows the picture it fetched (prefetched at raise).
            again = await hub.http.get(f"/api/v1/alarms/{alarm['id']}/snapshot")
            assert again.status_code == 200
            assert again.content == taken
    finally:
        await camera.stop()


async def test_snapshot_of_an_alarm_without_one_is_404_and_an_unreachable_gateway_is_504(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    prefix = unique_prefix()
    settings = hub_settings(mosquitto.url, f"sqlite:///{tmp_path / 'hub.db'}", prefix, api={"auth": "off"})
    async with running_hub(settings) as hub:
        now = hub.services.now()
        with hub.services.sessions.begin() as session:
            for alarm_id, image_id in (("a-plain", None), ("a-image", "cam-x.20261123T000000Z")):
                session.add(
                    Alarm(
                        id=alarm_id,
                        school_id="school-z",
                        gateway_id="gw-gone",
                        device_id="cam-x",
                        kind="video_blind",
                        severity="critical",
                        raised_at=now,
                        image_id=image_id,
                    )
                )
        plain = await hub.http.get("/api/v1/alarms/a-plain/snapshot")
        assert plain.status_code == 404
        assert "no snapshot" in plain.json()["detail"]
        missing = await hub.http.get("/api/v1/alarms/nope/snapshot")
        assert missing.status_code == 404
        gone = await hub.http.get("/api/v1/alarms/a-image/snapshot", timeout=30)  # after hub.snapshots' 10 s
        assert gone.status_code == 504
        assert "gw-gone" in gone.json()["detail"]
