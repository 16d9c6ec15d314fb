"""The ONVIF adapter against the simulator's fake camera, over real HTTP on loopback."""

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Callable

import aiohttp
import pytest
from aiohttp import web

from agent.camera.onvif import OnvifClient, topic_state
from agent.errors import AuthError, DeviceTimeout, ProtocolError, Unreachable
from simulator.onvif_responder import OnvifState, add_onvif_routes

MAIN_URI = "rtsp://127.0.0.1:8554/main"
SUB_URI = "rtsp://127.0.0.1:8554/sub"
PASSWORD = OnvifState().password

Camera = tuple[OnvifState, int]
ClientFactory = Callable[..., OnvifClient]


@pytest.fixture
async def camera() -> AsyncIterator[Camera]:
    """A fake camera on 127.0.0.1 and an ephemeral port."""
    state = OnvifState(main_uri=MAIN_URI, sub_uri=SUB_URI)
    app = web.Application()
    add_onvif_routes(app, state)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield state, port
    await runner.cleanup()


@pytest.fixture
async def make_client() -> AsyncIterator[ClientFactory]:
    """Clients that are closed after the test, so no aiohttp session leaks."""
    clients: list[OnvifClient] = []

    def make(port: int, password: str = PASSWORD) -> OnvifClient:
        client = OnvifClient("127.0.0.1", port, "admin", password, timeout_s=3.0)
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()


async def test_probe_reads_identity_profiles_and_retention(camera: Camera, make_client: ClientFactory) -> None:
    _, port = camera
    info = await make_client(port).probe()

    assert (info.manufacturer, info.model, info.firmware, info.serial) == (
        "CampusGuard-Sim",
        "SIM-CAM",
        "1.0.0",
        "SIM0001",
    )
    main, sub = info.profiles
    assert (main.token, main.width, main.height, main.fps_limit, main.bitrate_kbps) == ("main", 1920, 1080, 25.0, 4096)
    assert (main.codec, main.gov_length, main.stream_uri) == ("H264", 50, MAIN_URI)
    assert (sub.token, sub.width, sub.height, sub.fps_limit, sub.bitrate_kbps) == ("sub", 640, 360, 10.0, 512)
    assert sub.stream_uri == SUB_URI
    assert info.retention_days == pytest.approx(30, abs=0.01)
    assert info.recording_lag_s is not None and abs(info.recording_lag_s) < 2
    assert abs(info.clock_drift_s) < 2


async def test_second_probe_works_and_sees_changes(camera: Camera, make_client: ClientFactory) -> None:
    state, port = camera
    client = make_client(port)
    first = await client.probe()
    state.firmware = "1.0.1"
    state.main = (2560, 1440, 20.0, 6144)
    second = await client.probe()

    assert first.firmware == "1.0.0" and second.firmware == "1.0.1"
    assert (second.profiles[0].width, second.profiles[0].fps_limit, second.profiles[0].bitrate_kbps) == (
        2560,
        20.0,
        6144,
    )


async def test_clock_skew_is_reported_and_auth_still_works(camera: Camera, make_client: ClientFactory) -> None:
    state, port = camera
    state.clock_skew_s = 95.0  # beyond the fake camera's 60 s WS-Security window: only works if compensated
    info = await make_client(port).probe()

    assert info.clock_drift_s == pytest.approx(95, abs=2)
    assert info.recording_lag_s is not None and abs(info.recording_lag_s) < 2


async def test_clock_corrected_between_probes(camera: Camera, make_client: ClientFactory) -> None:
    state, port = camera
    state.clock_skew_s = -300.0
    client = make_client(port)
    assert (await client.probe()).clock_drift_s == pytest.approx(-300, abs=2)
    state.clock_skew_s = 0.0  # NTP fixed the camera; stale WS-Security offsets would now be refused
    assert (await client.probe()).clock_drift_s == pytest.approx(0, abs=2)


async def test_without_search_service_retention_is_none(camera: Camera, make_client: ClientFactory) -> None:
    state, port = camera
    state.retention_days = None
    info = await make_client(port).probe()

    assert info.retention_days is None and info.recording_lag_s is None
    assert len(info.profiles) == 2


async def test_wrong_password_is_auth_error(camera: Camera, make_client: ClientFactory) -> None:
    _, port = camera
    wrong = PASSWORD + "-typo"
    client = make_client(port, wrong)

    with pytest.raises(AuthError) as raised:
        await client.probe()
    assert wrong not in str(raised.value)
    with pytest.raises(AuthError):
        await client.events()


async def test_refused_port_is_unreachable(make_client: ClientFactory) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nothing listens there

    with pytest.raises(Unreachable):
        await make_client(port).probe()


async def test_silent_camera_is_timeout() -> None:
    async def swallow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # accept, read, never answer; returns when the client gives up
        writer.close()

    server = await asyncio.start_server(swallow, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = OnvifClient("127.0.0.1", port, "admin", PASSWORD, timeout_s=0.5)
    try:
        started = time.monotonic()
        with pytest.raises(DeviceTimeout):
            await client.probe()
        assert time.monotonic() - started < 2
        with pytest.raises(DeviceTimeout):
            await client.events()
    finally:
        await client.close()
        server.close()
        await server.wait_closed()


async def test_tamper_event_sets_and_clears(camera: Camera, make_client: ClientFactory) -> None:
    state, port = camera
    client = make_client(port)
    assert await client.events() == {"tamper": False, "motion": False, "signal_loss": False}

    state.set_event("tamper", True)
    assert await _within_two_calls(client, "tamper", True)
    state.set_event("tamper", False)
    assert await _within_two_calls(client, "tamper", False)


async def test_initial_states_come_from_the_subscription(camera: Camera, make_client: ClientFactory) -> None:
    state, port = camera
    state.motion = True  # before anyone subscribed
    state.signal_loss = True

    assert await make_client(port).events() == {"tamper": False, "motion": True, "signal_loss": True}


async def test_lost_subscription_is_recreated(camera: Camera, make_client: ClientFactory) -> None:
    state, port = camera
    client = make_client(port)
    await client.events()
    state.subscriptions.clear()  # the camera rebooted

    with pytest.raises(ProtocolError):
        await client.events()
    state.set_event("signal_loss", True)
    assert (await client.events())["signal_loss"] is True
    assert len(state.subscriptions) == 1


async def test_close_unsubscribes(camera: Camera) -> None:
    state, port = camera
    client = OnvifClient("127.0.0.1", port, "admin", PASSWORD, timeout_s=3.0)
    await client.events()
    assert len(state.subscriptions) == 1
    await client.close()

    assert state.subscriptions == {}


async def test_raw_soap_faults(camera: Camera) -> None:
    _, port = camera
    security = (
        '<s:Header><Security xmlns="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd">'
        "<UsernameToken><Username>admin</Username><Password Type="
        '"http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordText">'
        f"{PASSWORD}</Password></UsernameToken></Security></s:Header>"
    )

    async def post(header: str) -> tuple[int, str]:
        envelope = (
            f'<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope">{header}<s:Body>'
            '<GetSystemUris xmlns="http://www.onvif.org/ver10/device/wsdl"/></s:Body></s:Envelope>'
        )
        async with (
            aiohttp.ClientSession() as session,
            session.post(f"http://127.0.0.1:{port}/onvif/device_service", data=envelope) as response,
        ):
            return response.status, await response.text()

    status, text = await post("")  # no credentials: refused before the operation is looked up
    assert status == 401 and "ter:NotAuthorized" in text and "xmlns:ter=" in text
    status, text = await post(security)
    assert status == 500 and "ter:ActionNotSupported" in text


@pytest.mark.parametrize(
    ("topic", "items", "expected"),
    [
        ("tns1:RuleEngine/TamperDetector/Tamper", {"IsTamper": "true"}, ("tamper", True)),
        ("tns1:RuleEngine/TamperDetector/Tamper", {"IsTamper": "false"}, ("tamper", False)),
        ("tns1:VideoSource/MotionAlarm", {"State": "true"}, ("motion", True)),
        ("tns1:RuleEngine/CellMotionDetector/Motion", {"IsMotion": "1"}, ("motion", True)),
        ("tns1:VideoSource/SignalLoss", {"State": "false"}, ("signal_loss", False)),
        ("tns:VideoSource/SignalLoss", {"State": "true"}, ("signal_loss", True)),  # another prefix
        ("tns1:VideoSource/GlobalSceneChange/ImagingService", {"State": "true"}, None),
        ("tns1:RuleEngine/TamperDetector/Tamper", {"Other": "true"}, None),
    ],
)
def test_topic_state(topic: str, items: dict[str, str], expected: tuple[str, bool] | None) -> None:
    assert topic_state(topic, items) == expected


async def _within_two_calls(client: OnvifClient, name: str, value: bool) -> bool:
    for _ in range(2):
        if (await client.events())[name] is value:
            return True
    return False
