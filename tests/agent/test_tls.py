"""The agent reaches a TLS broker with credentials, and only with the right ones."""

import asyncio
import gc
from pathlib import Path

import pytest

from tests.agent.harness import agent_config, running, sim_config, unique_prefix
from tests.support.servers import Mosquitto, TlsFiles, password_file

pytestmark = pytest.mark.integration


@pytest.fixture
def tls_broker(tmp_path: Path) -> object:
    tls = TlsFiles(tmp_path / "pki")
    users = password_file(tmp_path / "passwd", {"gw-school-t": "s3cret"})
    broker = Mosquitto(tmp_path / "broker", tls=tls, password_file=users).start()
    yield broker, tls
    broker.stop()


@pytest.mark.parametrize(
    ("password", "use_ca", "connects"),
    [
        pytest.param("s3cret", True, True, id="right-credentials"),
        pytest.param("wrong", True, False, id="wrong-password"),
        # paho-mqtt 2.2 does not close its socket when the TLS handshake fails (the garbage collector
        # does, with a ResourceWarning); the agent's behaviour, refusing to connect, is what we test.
        pytest.param(
            "s3cret",
            False,
            False,
            id="unknown-ca",
            marks=pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
        ),
    ],
)
async def test_tls_and_password(
    tls_broker: tuple[Mosquitto, TlsFiles],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    password: str,
    use_ca: bool,
    connects: bool,
) -> None:
    from agent.runtime import Agent

    broker, tls = tls_broker
    monkeypatch.setenv("CG_TEST_MQTT_PASSWORD", password)
    async with running(sim_config({"bus": [("p1", "panic")]})) as sim:
        config = agent_config(sim, broker, tmp_path, unique_prefix())
        mqtt = config.mqtt.model_copy(
            update={
                "url": f"mqtts://127.0.0.1:{broker.port}",
                "username": "gw-school-t",
                "password_env": "CG_TEST_MQTT_PASSWORD",
                "ca_file": tls.ca if use_ca else None,
            }
        )
        agent = Agent(config.model_copy(update={"mqtt": mqtt}))
        stop = asyncio.Event()
        task = asyncio.create_task(agent.run(stop))
        try:
            async with asyncio.timeout(4):
                await agent.publisher.connected.wait()
            connected = True
        except TimeoutError:
            connected = False
        stop.set()
        await asyncio.wait_for(task, 20)
        assert connected is connects
    gc.collect()  # a socket paho leaked is reported here, under this test's warning filter, not in a later test
