"""Camera checks against fake cameras (MJPEG + ONVIF) and a real RTSP/H.264 server."""

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

import device_profiles
from agent.camera.driver import CameraDriver
from agent.camera.pool import VideoPool
from agent.camera.profile import CameraProfile
from agent.config import DeviceConfig
from agent.errors import AuthError, DeviceTimeout, Unreachable
from agent.profiles import load_profile
from simulator.camera import FakeCamera
from simulator.scene import FAULTS
from tests.support.servers import RtspServer, free_port

pytestmark = pytest.mark.integration
PASSWORD_ENV = "CG_TEST_CAMERA_PASSWORD"


def _profile(name: str, **camera: Any) -> Any:
    loaded = load_profile(device_profiles.PROFILES_DIR / "camera" / f"{name}.yaml", f"camera/{name}")
    if camera:
        settings = loaded.as_type(CameraProfile).camera.model_copy(update=camera)
        loaded.profile = loaded.as_type(CameraProfile).model_copy(update={"camera": settings})
    return loaded


def _driver(
    address: str, profile: Any, *, stream_url: str | None = None, pool: VideoPool | None = None
) -> CameraDriver:
    device = DeviceConfig(
        id="cam-1",
        profile=profile.ref,
        address=address,
        username="admin",
        password_env=PASSWORD_ENV,
        stream_url=stream_url,
    )
    return CameraDriver(device, profile, pool or VideoPool(1.0), None)


@pytest.fixture(autouse=True)
def _camera_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PASSWORD_ENV, "pw-123")


@pytest.fixture
async def camera() -> AsyncIterator[FakeCamera]:
    cam = FakeCamera("cam-1", port=free_port(), username="admin", password="pw-123", fps=25, onvif=True)
    await cam.start()
    yield cam
    await cam.stop()


@pytest.fixture(scope="module")
def rtsp() -> Iterator[RtspServer]:
    server = RtspServer().start()
    yield server
    server.stop()


async def test_every_fault_class_is_reported_with_its_class_after_the_persistence(camera: FakeCamera) -> None:
    profile = _profile("generic-mjpeg", frames=4, persistence=3, clear_after=2)
    driver = _driver(f"http://127.0.0.1:{camera.port}/mjpeg", profile)
    for _ in range(4):  # learn the baseline and the reference
        healthy = await driver.poll()
        assert (healthy["blind"], healthy["image_fault"]) == ("", "")
    reported: dict[str, list[str]] = {}
    for fault in FAULTS:
        await camera.act(fault, {})
        seen = [await driver.poll() for _ in range(3)]
        reported[fault] = [str(v["blind"] or v["image_fault"]) for v in seen]
        await camera.act("clear", {})
        for _ in range(3):
            after = await driver.poll()
        assert (after["blind"], after["image_fault"]) == ("", ""), f"{fault} did not clear"
    expected = {fault: ["", "", fault] for fault in FAULTS}  # nothing before the third bad check
    assert reported == expected


async def test_a_healthy_camera_raises_nothing_over_five_minutes_of_checks(camera: FakeCamera) -> None:
    # 60 checks = 5 minutes at a 5 s check interval, run back to back.
    profile = _profile("generic-mjpeg", frames=4)
    driver = _driver(f"http://127.0.0.1:{camera.port}/mjpeg", profile)
    single_check_faults = []
    for _ in range(60):
        values = await driver.poll()
        assert (values["blind"], values["image_fault"]) == ("", ""), values
        if driver.diagnosis.last_raw:
            single_check_faults.append(driver.diagnosis.last_raw)
    assert driver.diagnosis.checks == 60
    assert driver.skipped == 0
    assert single_check_faults == []  # not even one check saw a fault before persistence


async def test_onvif_identity_clock_streams_and_tamper_event(camera: FakeCamera) -> None:
    camera.onvif.clock_skew_s = 95
    driver = _driver(camera.address, _profile("generic-onvif", frames=4))
    try:
        values = await driver.poll()
        assert values["clock_drift_s"] == pytest.approx(95, abs=2)
        assert (values["main_width"], values["main_height"]) == (1920, 1080)
        assert values["resolution_low"] is False
        assert values["retention_days"] == pytest.approx(30, abs=0.1)
        assert values["fps"] and values["fps"] > 5  # the substream URI from ONVIF was read
        assert values["tamper"] is False
        await camera.act("tamper", {"on": True})
        values = await driver.poll()
        if not values["tamper"]:
            values = await driver.poll()
        assert values["tamper"] is True
    finally:
        await driver.close()


async def test_reasons_for_a_camera_that_fails(camera: FakeCamera) -> None:
    profile = _profile("generic-mjpeg", frames=4, open_timeout_s=1.0, read_timeout_s=1.0, deadline_s=3.0)
    driver = _driver(f"http://127.0.0.1:{camera.port}/mjpeg", profile)
    await driver.poll()
    await camera.act("password", {"password": "changed-by-someone"})
    with pytest.raises(AuthError):
        await driver.poll()
    await camera.act("password", {"password": "pw-123"})
    await camera.act("offline", {})
    with pytest.raises(Unreachable):
        await driver.poll()
    await camera.act("recover", {})
    assert (await driver.poll())["reachable"] is True
    await camera.act("go_silent", {})
    with pytest.raises(DeviceTimeout):
        await driver.poll()
    await camera.act("recover", {})


async def test_rtsp_h264_liveness_and_image_checks(rtsp: RtspServer) -> None:
    profile = _profile("generic-rtsp", image_every=2, frames=6, persistence=2)
    live = _driver(rtsp.url("live"), profile)
    values = [await live.poll() for _ in range(4)]
    assert all(v["reachable"] for v in values)
    liveness_only = values[2]  # checks 1, 2 and 4 decode (1: to learn at once); check 3 only counts packets
    assert liveness_only["bitrate_kbps"]
    assert liveness_only["bitrate_kbps"] > 10
    assert liveness_only["fps"] == pytest.approx(10, rel=0.3)
    assert (liveness_only["width"], liveness_only["height"]) == (640, 360)
    assert values[1]["bitrate_kbps"] is None  # a decoding check measures frames, not bytes
    assert all(v["blind"] == "" for v in values)

    black = _driver(rtsp.url("black"), profile)
    assert [(await black.poll())["blind"] for _ in range(2)] == ["", "black"]  # persistence 2
    snow = _driver(rtsp.url("snow"), profile)
    faults = [(await snow.poll())["image_fault"] for _ in range(2)]
    while faults[-1] != "noise" and len(faults) < 6:  # a decode starved by a loaded machine judges nothing
        faults.append((await snow.poll())["image_fault"])
    assert faults[0] == "" and faults[-1] == "noise"  # persistence 2: never on the first look


async def test_image_checks_are_skipped_when_the_cpu_budget_is_spent(camera: FakeCamera) -> None:
    pool = VideoPool(budget_cores=0.0001, window_s=60)
    driver = _driver(f"http://127.0.0.1:{camera.port}/mjpeg", _profile("generic-mjpeg", frames=4), pool=pool)
    await driver.poll()  # the first check always decodes
    values = await driver.poll()
    assert values["image_checks_skipped"] >= 1
    assert values["reachable"] is True  # liveness still checked
