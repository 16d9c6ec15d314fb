"""A camera through the whole agent: events over real mosquitto, the kept snapshot, the image command."""

import asyncio
import base64
from pathlib import Path

import aiomqtt
import pytest

from agent.config import AgentConfig
from contract import Command, Image, MessageType, TopicTree, decode, encode
from contract.messages import utc_now
from simulator.camera import FakeCamera
from tests.agent.harness import running_agent, unique_prefix, watcher
from tests.support.servers import Mosquitto, free_port

pytestmark = pytest.mark.integration


async def test_blind_camera_raises_an_alarm_with_its_class_and_a_fetchable_snapshot(
    mosquitto: Mosquitto, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CG_TEST_CAM_PW", "pw-123")
    prefix = unique_prefix()
    camera = FakeCamera("cam-gate", port=free_port(), username="admin", password="pw-123", fps=25, onvif=True)
    await camera.start()
    config = AgentConfig.model_validate(
        {
            "school_id": "school-c",
            "gateway_id": "gw-c",
            "mqtt": {"url": mosquitto.url, "topic_prefix": prefix},
            "spool": {"path": str(tmp_path / "spool.db")},
            "snapshot_interval_s": 1,
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
    tree = TopicTree(prefix)
    try:
        async with watcher(mosquitto, prefix) as seen, running_agent(config) as agent:
            await seen.wait_for(lambda e: e.availability == "online", 20)
            await asyncio.sleep(1.5)  # a few healthy checks: baseline and reference
            await camera.act("covered", {})
            _, raised = await seen.wait_for(lambda e: e.alarm_type == "video_blind" and e.type == "alarm.raised", 20)
            assert raised.value == "covered"
            assert raised.severity == "critical"
            assert raised.image_id
            _, degraded = await seen.wait_for(lambda e: e.availability == "degraded", 5)
            assert degraded.reason == "blind"

            async with aiomqtt.Client("127.0.0.1", mosquitto.port) as hub:
                await hub.subscribe(tree.topic("school-c", "gw-c", MessageType.IMAGE), qos=1)
                command = Command(command_id="img-1", ts=utc_now(), name="image", image_id=raised.image_id)
                await hub.publish(tree.topic("school-c", "gw-c", MessageType.COMMAND), encode(command), qos=1)
                async with asyncio.timeout(10):
                    message = await anext(aiter(hub.messages))
            assert isinstance(message.payload, bytes)
            image = decode(MessageType.IMAGE, message.payload, Image)
            assert image.image_id == raised.image_id
            assert image.device_id == "cam-gate"
            assert image.data_b64
            assert base64.b64decode(image.data_b64)[:2] == b"\xff\xd8"  # a JPEG
            assert (tmp_path / "snapshots" / f"{raised.image_id}.jpg").exists()

            await camera.act("clear", {})
            _, cleared = await seen.wait_for(lambda e: e.alarm_type == "video_blind" and e.type == "alarm.cleared", 20)
            assert cleared.value == "covered"  # restored, and what it was
            await seen.wait_for(lambda e: e.availability == "online" and e.previous == "degraded", 5)
            status = [body for _, kind, body in seen.other if kind == "status"][-1]
            metrics = status["devices"][0]["metrics"]
            assert metrics["main_width"] == 1920
            assert metrics["fps"] > 5
            assert agent.devices["cam-gate"].availability.state == "online"
    finally:
        await camera.stop()
