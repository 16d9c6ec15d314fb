"""``campusguard hub`` stops promptly on SIGTERM while a console holds a live stream open.

An open server-sent-events response never ends by itself; uvicorn waits for open responses before
it runs the app's shutdown. The hub ends its streams first, so the console's stream closes cleanly
(it reconnects with Last-Event-ID) and the hub runs its own shutdown instead of hanging.
"""

import asyncio
import signal
from pathlib import Path

import httpx
import pytest
import yaml

from tests.hub.support import start_hub, unique_prefix, wait_healthy
from tests.support.servers import Mosquitto, free_port

pytestmark = pytest.mark.integration


async def test_sigterm_with_an_open_live_stream_ends_the_stream_and_exits_cleanly(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    port = free_port()
    config = tmp_path / "hub.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "mqtt": {"url": mosquitto.url, "topic_prefix": unique_prefix(), "client_id": f"hub-{port}"},
                "database": {"url": f"sqlite:///{tmp_path / 'hub.db'}"},
                "api": {"port": port, "auth": "off"},
                "gateways": {"enrolment": "open"},
            }
        )
    )
    log = tmp_path / "hub.log"
    hub = start_hub(config, log)
    try:
        await wait_healthy(port)
        async with (
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client,
            client.stream("GET", "/api/v1/stream") as stream,
        ):
            assert stream.status_code == 200
            lines = stream.aiter_lines()
            assert (await anext(lines)).startswith("retry:")  # the stream is open
            hub.send_signal(signal.SIGTERM)
            rest = [line async for line in lines]  # ends (EOF) instead of hanging until the grace period
        assert all(not line.startswith("data:") for line in rest)
        code = await asyncio.to_thread(hub.wait, 30)
    finally:
        if hub.poll() is None:
            hub.kill()
            hub.wait()
    text = log.read_text()
    assert code in (0, -signal.SIGTERM), text  # uvicorn re-raises the signal after its graceful shutdown
    assert "timeout graceful shutdown exceeded" not in text  # no request was cut off
    assert "Traceback" not in text
