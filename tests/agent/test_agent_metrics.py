"""The agent's Prometheus /metrics: off by default; when on, the figures its snapshots carry."""

import asyncio
import math

import httpx
import pytest

from agent.metrics import exposition
from tests.agent.harness import agent_config, running, running_agent, sim_config, unique_prefix, watcher
from tests.support.servers import Mosquitto

pytestmark = pytest.mark.integration


def test_the_text_format_escapes_labels_and_leaves_out_what_is_not_a_number() -> None:
    text = exposition([
        ("m", "gauge", "A help.", [({"device": 'a"b\\c\nd'}, 1.0), ({"device": "x"}, math.nan), ({}, 2.5)]),
    ])  # fmt: skip
    assert text == '# HELP m A help.\n# TYPE m gauge\nm{device="a\\"b\\\\c\\nd"} 1\nm 2.5\n'


async def test_a_scraper_sees_every_device_and_the_spool(mosquitto: Mosquitto, tmp_path: object) -> None:
    prefix = unique_prefix()
    async with running(sim_config({"bus": [("p1", "panic"), ("f1", "fence")]})) as sim:
        await sim.devices["f1"].act("go_silent", {})
        config = agent_config(sim, mosquitto, tmp_path, prefix, metrics={"port": 0})  # type: ignore[arg-type]
        async with watcher(mosquitto, prefix) as seen, running_agent(config) as agent:
            await seen.wait_for(lambda e: e.device_id == "p1" and e.availability == "online", 10)
            await seen.wait_for(lambda e: e.device_id == "f1" and e.availability == "offline", 10)
            assert agent.metrics_server is not None
            port = agent.metrics_server.sockets[0].getsockname()[1]
            # A client that connects and says nothing holds up no one.
            _idle = await asyncio.open_connection("127.0.0.1", port)
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as http:
                response = await http.get("/metrics")
                assert response.status_code == 200
                assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
                text = response.text
                assert 'campusguard_agent_device_up{device="p1",kind="one_click_alarm"} 1' in text
                assert 'campusguard_agent_device_up{device="f1",kind="fence"} 0' in text
                assert "campusguard_agent_mqtt_connected 1" in text
                assert 'campusguard_agent_info{gateway="gw-t",school="school-t",version=' in text
                assert "campusguard_agent_spool_failing 0" in text
                assert (await http.get("/")).status_code == 404
                assert (await http.post("/metrics")).status_code == 404
            _idle[1].close()


async def test_metrics_are_off_unless_a_port_is_set(mosquitto: Mosquitto, tmp_path: object) -> None:
    async with running(sim_config({"bus": [("p1", "panic")]})) as sim:
        config = agent_config(sim, mosquitto, tmp_path, unique_prefix())  # type: ignore[arg-type]
        async with running_agent(config) as agent:
            await asyncio.sleep(0.3)
            assert agent.metrics_server is None
