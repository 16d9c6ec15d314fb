"""The real commands as a user runs them: `campusguard simulate` and `campusguard agent`."""

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest

from tests.support.servers import Mosquitto, free_port, wait_for_port

pytestmark = pytest.mark.integration
CLI = [sys.executable, "-m", "campusguard.cli"]


def _http(method: str, url: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - loopback test server
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def _retained(broker: Mosquitto, topic: str, timeout_s: float = 5.0) -> dict[str, Any]:
    got: list[bytes] = []
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    client.on_message = lambda _c, _u, msg: got.append(msg.payload)
    client.connect("127.0.0.1", broker.port)
    client.subscribe(topic, qos=1)
    client.loop_start()
    deadline = time.monotonic() + timeout_s
    while not got and time.monotonic() < deadline:
        time.sleep(0.05)
    client.loop_stop()
    client.disconnect()
    assert got, f"no retained message on {topic}"
    result: dict[str, Any] = json.loads(got[-1])
    return result


@pytest.fixture
def simulator_process(tmp_path: Path) -> Any:
    modbus_port, control_port = free_port(), free_port()
    config = tmp_path / "sim.yaml"
    config.write_text(
        f"control_port: {control_port}\n"
        "servers:\n"
        f"  - id: bus-a\n    port: {modbus_port}\n    devices:\n"
        "      - {id: panic-1, profile: one_click_alarm/generic-ykb100, unit_id: 1}\n"
        "      - {id: fence-1, profile: fence/generic-dwz4, unit_id: 2}\n"
    )
    proc = subprocess.Popen([*CLI, "simulate", "--config", str(config)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    lines = [proc.stdout.readline().strip() for _ in range(2)]
    wait_for_port(control_port)
    yield {"modbus_port": modbus_port, "control": f"http://127.0.0.1:{control_port}", "lines": lines}
    proc.send_signal(signal.SIGTERM)
    proc.wait(10)
    proc.stdout.close()


def test_simulator_control_interface(simulator_process: dict[str, Any]) -> None:
    control = simulator_process["control"]
    assert simulator_process["lines"][-1] == f"simulator control: {control}"
    status, listing = _http("GET", f"{control}/devices")
    assert status == 200
    assert listing["total"] == 2
    assert {d["id"]: d["kind"] for d in listing["items"]} == {"panic-1": "one_click_alarm", "fence-1": "fence"}
    assert listing["items"][0]["address"] == f"tcp://127.0.0.1:{simulator_process['modbus_port']}"

    status, reply = _http("POST", f"{control}/devices/fence-1/actions/cut", {"zone": 3})
    assert status == 200
    assert reply["changed"]["zone3_wire_cut"] is True
    _, fence = _http("GET", f"{control}/devices/fence-1")
    assert fence["points"]["zone3_voltage_kv"] == 0.0

    assert _http("POST", f"{control}/devices/nope/actions/press", {})[0] == 404
    status, error = _http("POST", f"{control}/devices/fence-1/actions/press", {})
    assert status == 400
    assert "unknown action" in error["error"]
    assert _http("POST", f"{control}/devices/fence-1/actions/cut", {"zone": 9})[0] == 400


def test_killed_agent_leaves_offline_presence_and_clean_stop_says_stopped(
    mosquitto: Mosquitto, simulator_process: dict[str, Any], tmp_path: Path
) -> None:
    prefix = f"tproc{os.getpid()}/v1"
    config = tmp_path / "agent.yaml"
    config.write_text(
        "school_id: school-p\ngateway_id: gw-p\n"
        f"mqtt: {{url: '{mosquitto.url}', topic_prefix: '{prefix}', keepalive_s: 5}}\n"
        "spool: {path: spool.db}\n"
        "devices:\n"
        f"  - {{id: panic-1, profile: one_click_alarm/generic-ykb100, address: "
        f"'tcp://127.0.0.1:{simulator_process['modbus_port']}', unit_id: 1}}\n"
    )
    topic = f"{prefix}/school-p/gw-p/presence"
    for ending in ("kill", "term"):
        proc = subprocess.Popen([*CLI, "agent", "--config", str(config)], stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while _retained(mosquitto, topic)["state"] != "online":
            assert time.monotonic() < deadline, "agent never came online"
            time.sleep(0.2)
        proc.send_signal(signal.SIGKILL if ending == "kill" else signal.SIGTERM)
        proc.wait(10)
        expected = "offline" if ending == "kill" else "stopped"
        deadline = time.monotonic() + 5
        while (state := _retained(mosquitto, topic)["state"]) != expected:
            assert time.monotonic() < deadline, f"presence stayed {state!r} after {ending}"
            time.sleep(0.2)
    assert (tmp_path / "spool.db").exists()  # relative spool paths are relative to the config file


def test_bad_config_stops_start_up_naming_file_line_and_field(tmp_path: Path) -> None:
    config = tmp_path / "agent.yaml"
    config.write_text(
        "school_id: s\ngateway_id: g\ndevices:\n  - {id: d1, profile: fence/generic-dwz4, address: 'ftp://x'}\n"
    )
    result = subprocess.run(
        [*CLI, "agent", "--config", str(config)], capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 2
    assert f"{config}:4: devices[0].address" in result.stderr
    assert "tcp://" in result.stderr
